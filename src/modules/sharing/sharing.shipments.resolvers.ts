import type { IResolvers } from 'mercurius';
import { z } from 'zod';
import { nullIfNotFound, parseArgs } from '../../graphql/adapter.js';
import { toSharingRequestDto } from './sharing.dto.js';
import { toPickLineDto, toScanOutResultDto, toShipmentDto } from './sharing.shipments.dto.js';
import {
  dispatchSharingShipmentInput,
  receiveSharingItemsInput,
  scanOutSharingItemInput,
} from './sharing.shipments.schemas.js';
import type { ShippingTemperature } from './sharing.table.js';

// GraphQL adapter over shipments and receipt: the REST zod schemas validate the arguments, each
// field calls one service method, and the objects are the REST DTOs. One name differs: a GraphQL
// enum value cannot start with a digit, so REST's `2_8c` is `refrigerated` here.

const idArgs = z.object({ id: z.uuid() });

const GQL_TEMPERATURE: Record<ShippingTemperature, string> = {
  ambient: 'ambient',
  '2_8c': 'refrigerated',
  dry_ice: 'dry_ice',
  ln2_dry_shipper: 'ln2_dry_shipper',
};
const REST_TEMPERATURE = new Map(Object.entries(GQL_TEMPERATURE).map(([rest, gql]) => [gql, rest]));

/** The GraphQL enum's values, in the order of SHIPPING_TEMPERATURES. */
export const GQL_SHIPPING_TEMPERATURES = Object.values(GQL_TEMPERATURE);

const toShipmentGql = (dto: ReturnType<typeof toShipmentDto>) => ({
  ...dto,
  shippingTemperature: dto.shippingTemperature && GQL_TEMPERATURE[dto.shippingTemperature],
  counts: Object.entries(dto.counts).map(([state, count]) => ({ state, count })),
});

export const sharingShipmentResolvers: IResolvers = {
  Query: {
    async sharingShipment(_root, args: unknown, { biobank, services }) {
      const { id } = idArgs.parse(args);
      const view = await nullIfNotFound('SHARING_REQUEST_NOT_FOUND', () =>
        nullIfNotFound('SHIPMENT_NOT_FOUND', () => services.sharing.getSharingShipment(biobank, id)),
      );
      return view && toShipmentGql(toShipmentDto(view));
    },
    async sharingPickList(_root, args: unknown, { biobank, services }) {
      const { id } = idArgs.parse(args);
      const list = await services.sharing.getSharingPickList(biobank, id);
      return { requestId: list.requestId, lines: list.lines.map(toPickLineDto) };
    },
  },
  Mutation: {
    async createSharingShipment(_root, args: unknown, { biobank, services }) {
      const { id } = idArgs.parse(args);
      return toShipmentGql(toShipmentDto(await services.sharing.createSharingShipment(biobank, id)));
    },
    async scanOutSharingItem(
      _root,
      args: { id: unknown; barcode: unknown; occurredAt?: unknown },
      { biobank, services },
    ) {
      const { id } = idArgs.parse({ id: args.id });
      const input = parseArgs(scanOutSharingItemInput, {
        barcode: args.barcode,
        occurredAt: args.occurredAt,
      });
      return toScanOutResultDto(await services.sharing.scanOutSharingItem(biobank, { id, ...input }));
    },
    async dispatchSharingShipment(
      _root,
      args: { id: unknown; input: { shippingTemperature?: unknown } & Record<string, unknown> },
      { biobank, services },
    ) {
      const { id } = idArgs.parse({ id: args.id });
      const t = args.input.shippingTemperature;
      const input = parseArgs(dispatchSharingShipmentInput, {
        ...args.input,
        shippingTemperature: typeof t === 'string' ? (REST_TEMPERATURE.get(t) ?? t) : t,
      });
      return toShipmentGql(
        toShipmentDto(await services.sharing.dispatchSharingShipment(biobank, { id, ...input })),
      );
    },
    async receiveSharingItems(_root, args: { id: unknown; input: unknown }, { biobank, services }) {
      const { id } = idArgs.parse({ id: args.id });
      const input = parseArgs(receiveSharingItemsInput, args.input);
      return toShipmentGql(
        toShipmentDto(await services.sharing.receiveSharingItems(biobank, { id, ...input })),
      );
    },
    async completeSharingRequest(_root, args: unknown, { biobank, services }) {
      const { id } = idArgs.parse(args);
      return toSharingRequestDto(await services.sharing.completeSharingRequest(biobank, id));
    },
  },
};
