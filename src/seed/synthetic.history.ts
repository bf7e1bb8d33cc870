// The synthetic inventory's history builder: donors and their visits, and for each collection the
// tubes it yields with the custody events the services would have written (registerSpecimen with
// a position, aliquotSpecimen, deriveSpecimen), in batches for the ledger's bulk command.
import { newId } from '../db/columns.js';
import type { BulkParticipant } from '../modules/participants/index.js';
import type { ImportedEvent, SpecimenHistory } from '../modules/specimens/index.js';
import type { BulkContainer } from '../modules/storage/index.js';
import { SPECIMEN_TYPE_INFO } from '../vocabulary/specimen-types.js';
import { planCollection, type PlanNode } from './synthetic.plan.js';
import { PROTOCOLS } from './synthetic.protocols.js';
import { intBetween, MINUTE, pick, round, type Rng } from './synthetic.random.js';
import { primarySprec, SPREC_VERSION } from './synthetic.sprec.js';
import { StorageFiller, storageClassOf, type StorageClass, type StorageTree } from './synthetic.storage.js';

/** A tube being made: its row and history, and what the generator still needs to know of it. */
interface SpecimenSeed extends SpecimenHistory {
  /** its position's label, as the `stored` event names it */
  label: string;
  /** aliquots and derivatives made from it so far (their barcode suffix) */
  children: number;
}

interface ParticipantSeed extends BulkParticipant {
  /** index in PROTOCOLS */
  protocol: number;
}

/** What the generator made since the last batch was taken, in insertion order. */
export class Batch {
  containers: BulkContainer[] = [];
  participants: BulkParticipant[] = [];
  specimens: SpecimenHistory[] = [];
}

/** The generator's state: what exists so far, and the batch not yet written. */
export class InventoryWorld implements StorageTree {
  batch = new Batch();
  sites: BulkContainer[] = [];
  boxCount = 0;
  containers = 0;
  participants: ParticipantSeed[] = [];
  specimens = 0;
  events = 0;
  primaries = 0;
  private readonly fillers: Record<StorageClass, StorageFiller>;

  constructor(
    readonly protocolIds: string[],
    readonly rng: Rng,
    /** SPREC details only, so they leave the inventory's shape for a seed as it was */
    readonly sprecRng: Rng,
  ) {
    this.fillers = {
      minus80: new StorageFiller('minus80', this),
      nucleic: new StorageFiller('nucleic', this),
      ln2: new StorageFiller('ln2', this),
    };
  }

  addContainer(c: Omit<BulkContainer, 'id'>): BulkContainer {
    const row = { id: newId(), ...c };
    this.batch.containers.push(row);
    this.containers++;
    return row;
  }

  addSites(at: Date) {
    for (const [barcode, name] of [
      ['SITE-MAIN', 'Main campus biorepository'],
      ['SITE-OFF', 'Off-site disaster-recovery store'],
    ] as const) {
      this.sites.push(
        this.addContainer({
          parentId: null,
          ancestorIds: [],
          kind: 'site',
          barcode,
          name,
          temperatureC: null,
          grid: null,
          allowedTypes: null,
          slot: null,
          createdAt: at,
        }),
      );
    }
  }

  /** A donor: a new one (60 %) or a return visit of an earlier one. */
  donor(at: Date): ParticipantSeed {
    const rng = this.rng;
    if (this.participants.length > 0 && rng() < 0.4) {
      return this.participants[Math.floor(rng() * this.participants.length)]!;
    }
    const protocol = PROTOCOLS.indexOf(
      pick(
        rng,
        PROTOCOLS.map((p) => [p, p.weight] as const),
      ),
    );
    const p = PROTOCOLS[protocol]!;
    const n = this.participants.length + 1;
    const diagnoses = p.diagnoses.length ? [p.diagnoses[Math.floor(rng() * p.diagnoses.length)]!] : [];
    const row: ParticipantSeed = {
      id: newId(),
      protocol,
      protocolId: this.protocolIds[protocol]!,
      pid: `${p.code}-${String(n).padStart(7, '0')}`,
      sex: pick(rng, [
        ['female', 49],
        ['male', 49],
        ['other', 0.5],
        ['unknown', 1.5],
      ] as const),
      birthYear: intBetween(rng, 1930, 2004),
      diagnoses,
      createdAt: at,
    };
    this.participants.push(row);
    this.batch.participants.push(row);
    return row;
  }

  /** Appends an event to a tube's history (the ledger's bulk command chains and hashes it). */
  private event(s: SpecimenSeed, e: ImportedEvent): void {
    s.events.push(e);
    this.events++;
  }

  /**
   * One collection from one donor visit: primaries registered straight into box positions, then
   * processed (aliquots and derivatives, each stored on creation). Stops at `budget` tubes.
   */
  collection(index: number, at: Date, budget: number): number {
    const rng = this.rng;
    const donor = this.donor(at);
    const protocol = PROTOCOLS[donor.protocol]!;
    const kind = pick(rng, protocol.collections);
    const plan = planCollection(rng, kind, protocol);
    const collectedAt = at;
    const receivedAt = new Date(collectedAt.getTime() + intBetween(rng, 20, 240) * MINUTE);
    const processedAt = new Date(receivedAt.getTime() + intBetween(rng, 15, 120) * MINUTE);
    const frozenAt = new Date(processedAt.getTime() + intBetween(rng, 10, 60) * MINUTE);
    let made = 0;
    let clock = processedAt.getTime();
    const tick = () => new Date((clock += intBetween(rng, 1, 4) * MINUTE));
    // The LIS accession of the visit; an LIS id names one tube, so a second tube gets a suffix.
    const accession = `L${collectedAt.getUTCFullYear()}-${index}`;
    let lisIds = 0;
    const lisId = () => (lisIds++ === 0 ? accession : `${accession}-${lisIds}`);

    const create = (
      node: PlanNode,
      parent: SpecimenSeed | null,
      lineage: 'primary' | 'aliquot' | 'derivative',
      when: Date,
      childNo: number,
    ): { seed: SpecimenSeed; boxTemperatureC: number | null } => {
      const id = newId();
      const p = parent?.specimen;
      const barcode = p
        ? `${p.barcode}-${lineage === 'aliquot' ? 'A' : 'D'}${String(childNo).padStart(2, '0')}`
        : `SY${this.primaries.toString(36).toUpperCase().padStart(7, '0')}`;
      if (!p) this.primaries++;
      const slot = this.fillers[storageClassOf(node.type)].next(when);
      const seed: SpecimenSeed = {
        specimen: {
          id,
          barcode,
          type: node.type,
          lineage,
          parentId: p?.id ?? null,
          rootId: p?.rootId ?? id,
          participantId: donor.id,
          protocolId: this.protocolIds[donor.protocol]!,
          anatomicSite: p ? p.anatomicSite : (node.anatomicSite ?? null),
          pathologyStatus: p
            ? p.pathologyStatus
            : (node.pathologyStatus ?? (node.type === 'fresh_frozen_tissue' ? 'unknown' : 'not_applicable')),
          collectedAt,
          receivedAt,
          processedAt: p ? when : processedAt,
          frozenAt: p ? null : frozenAt,
          sprecCode: null,
          sprecVersion: SPREC_VERSION,
          unit: lineage === 'aliquot' && p ? p.unit : SPECIMEN_TYPE_INFO[node.type].defaultUnit,
          initialQuantity: node.quantity,
          availableQuantity: node.quantity,
          quality: node.quality ?? (lineage === 'aliquot' && p ? p.quality : {}),
          freezeThawCount: 0,
          status: 'available',
          holds: [],
          containerId: slot.box.id,
          positionRow: slot.row,
          positionCol: slot.col,
          externalIds: !p && rng() < 0.7 ? [{ system: 'LIS', value: lisId() }] : [],
        },
        events: [],
        label: slot.label,
        children: 0,
      };
      this.batch.specimens.push(seed);
      this.specimens++;
      made++;
      return { seed, boxTemperatureC: slot.box.temperatureC };
    };

    const store = (s: SpecimenSeed, when: Date, requestId: string) =>
      this.event(s, {
        type: 'stored',
        occurredAt: when,
        recordedAt: when,
        requestId,
        toContainerId: s.specimen.containerId,
        toPosition: s.label,
      });

    const processNode = (parent: SpecimenSeed, node: PlanNode) => {
      for (const op of node.ops) {
        const n = Math.min(op.children.length, budget - made);
        if (n <= 0) return;
        const when = tick();
        // The parent's chain gets its drawing event after the children's births: name that link.
        const parentSeq = parent.events.length + 1;
        const requestId = `syn-${index}-${parentSeq}-${parent.specimen.barcode}`;
        const created: [SpecimenSeed, PlanNode][] = [];
        for (const childNode of op.children.slice(0, n)) {
          const { seed: child } = create(childNode, parent, op.kind, when, ++parent.children);
          this.event(child, {
            type: 'created_from_parent',
            occurredAt: when,
            recordedAt: when,
            requestId,
            quantityChange: child.specimen.initialQuantity,
            details: {
              parentId: parent.specimen.id,
              parentBarcode: parent.specimen.barcode,
              lineage: op.kind,
              type: child.specimen.type,
              parentCustodySeq: parentSeq,
            },
          });
          store(child, when, requestId);
          created.push([child, childNode]);
        }
        const drawn = op.kind === 'aliquot' ? round(op.drawn * (n / op.children.length), 4) : op.drawn;
        parent.specimen.availableQuantity = round(parent.specimen.availableQuantity - drawn, 4);
        this.event(parent, {
          type: op.kind === 'aliquot' ? 'aliquoted' : 'derived',
          occurredAt: when,
          recordedAt: when,
          requestId,
          quantityChange: -drawn,
          details: { children: created.map(([c]) => ({ id: c.specimen.id, barcode: c.specimen.barcode })) },
        });
        for (const [child, childNode] of created) processNode(child, childNode);
      }
    };

    for (const node of plan) {
      if (made >= budget) break;
      const registeredAt = new Date(receivedAt.getTime() + intBetween(rng, 1, 10) * MINUTE);
      const requestId = `syn-${index}-register`;
      const { seed: primary, boxTemperatureC } = create(node, null, 'primary', registeredAt, 0);
      const row = primary.specimen;
      if (node.sprec) {
        const stated = primarySprec(
          this.sprecRng,
          node.sprec,
          { collectedAt, processedAt, frozenAt },
          boxTemperatureC,
        );
        row.sprecCode = stated.code;
        row.quality = { ...row.quality, ...stated.quality };
      }
      this.event(primary, {
        type: 'collected',
        occurredAt: collectedAt,
        recordedAt: registeredAt,
        requestId,
        quantityChange: row.initialQuantity,
        details: { barcode: row.barcode, type: row.type },
      });
      store(primary, registeredAt, requestId);
      processNode(primary, node);
    }
    return made;
  }

  takeBatch(): Batch {
    const b = this.batch;
    this.batch = new Batch();
    return b;
  }
}
