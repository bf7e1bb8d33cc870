// Labels for specimens: what the tube says (barcode as DataMatrix or Code 128, type, date, short
// location) in ZPL for thermal printers, PDF (one page per label, for office printers and label
// dialogs) or PNG (one image, labels one under another). A read: nothing is written or audited.
import { validationFailed } from '../../errors.js';
import type { Ctx } from '../../context.js';
import { specimenNotFound, type SpecimenService, type SpecimenView } from '../specimens/index.js';
import { PDFDocument } from 'pdf-lib';
import {
  LabelTooSmall,
  layoutLabel,
  type LabelContent,
  type LabelSize,
  type Symbology,
} from './labels.layout.js';
import { drawLabel, encodePng, newCanvas } from './labels.png.js';
import { ZPL_DPI, toZpl } from './labels.zpl.js';

export const LABEL_FORMATS = ['zpl', 'pdf', 'png'] as const;
export type LabelFormat = (typeof LABEL_FORMATS)[number];

export const LABEL_MEDIA_TYPES: Record<LabelFormat, string> = {
  zpl: 'text/plain; charset=utf-8',
  pdf: 'application/pdf',
  png: 'image/png',
};

/** PNG and PDF resolution: a 300 dpi label printer prints them dot for dot. */
export const IMAGE_DPI = 300;
/** white dots between labels on a PNG sheet */
const SHEET_GAP = 12;

export interface PrintLabelsInput {
  specimenIds: string[];
  format: LabelFormat;
  size: LabelSize;
  symbology: Symbology;
}

export interface PrintedLabels {
  format: LabelFormat;
  mediaType: string;
  body: Buffer;
  count: number;
}

export interface LabelServiceDeps {
  specimens: Pick<SpecimenService, 'getSpecimensByIds'>;
}

const typeText = (type: string) => type.replace(/_/g, ' ').toUpperCase();

function contentOf(view: SpecimenView): LabelContent {
  const { row, location } = view;
  const when = row.collectedAt ?? row.createdAt;
  return {
    barcode: row.barcode,
    type: typeText(row.type),
    date: when.toISOString().slice(0, 10),
    location: location ? [location.containerBarcode, location.position].filter(Boolean).join(' ') : '',
  };
}

export function createLabelService(deps: LabelServiceDeps) {
  /** The layouts in the order asked; a code too large for the stock is a 400 naming the field. */
  function layouts(contents: LabelContent[], input: PrintLabelsInput, dpi: number) {
    return contents.map((content) => {
      try {
        return layoutLabel(content, input.size, input.symbology, dpi);
      } catch (err) {
        if (!(err instanceof LabelTooSmall)) throw err;
        throw validationFailed([
          {
            field: 'symbology',
            message: `${input.symbology} of ${content.barcode} (${err.message}) does not fit a ${input.size} label; choose a larger size or datamatrix`,
          },
        ]);
      }
    });
  }

  async function render(contents: LabelContent[], input: PrintLabelsInput): Promise<Buffer> {
    if (input.format === 'zpl') {
      const all = layouts(contents, input, ZPL_DPI);
      return Buffer.from(all.map((l, i) => toZpl(l, contents[i]!.barcode)).join(''), 'utf8');
    }
    const all = layouts(contents, input, IMAGE_DPI);
    if (input.format === 'png') {
      const first = all[0]!;
      const sheet = newCanvas(first.width, all.length * first.height + (all.length - 1) * SHEET_GAP);
      all.forEach((l, i) => drawLabel(sheet, l, i * (first.height + SHEET_GAP)));
      return encodePng(sheet, IMAGE_DPI);
    }
    const pdf = await PDFDocument.create();
    pdf.setTitle(`Specimen labels (${all.length})`);
    pdf.setCreator('biobank');
    for (const l of all) {
      const canvas = newCanvas(l.width, l.height);
      drawLabel(canvas, l);
      const image = await pdf.embedPng(encodePng(canvas, IMAGE_DPI));
      const points = (dots: number) => (dots / IMAGE_DPI) * 72;
      const page = pdf.addPage([points(l.width), points(l.height)]);
      page.drawImage(image, { x: 0, y: 0, width: points(l.width), height: points(l.height) });
    }
    return Buffer.from(await pdf.save());
  }

  async function print(ctx: Ctx, input: PrintLabelsInput, idField: string): Promise<PrintedLabels> {
    const unique = [...new Set(input.specimenIds)];
    const views = await deps.specimens.getSpecimensByIds(ctx, unique);
    const byId = new Map(views.map((v) => [v.row.id, v]));
    const missing = input.specimenIds.find((id) => !byId.has(id));
    if (missing) throw specimenNotFound(missing, idField);
    const contents = input.specimenIds.map((id) => contentOf(byId.get(id)!));
    const body = await render(contents, input);
    return { format: input.format, mediaType: LABEL_MEDIA_TYPES[input.format], body, count: contents.length };
  }

  return {
    /** One specimen's label. Throws SPECIMEN_NOT_FOUND, VALIDATION_FAILED (see printLabels), FORBIDDEN. */
    printSpecimenLabel(ctx: Ctx, input: Omit<PrintLabelsInput, 'specimenIds'> & { id: string }) {
      const { id, ...rest } = input;
      return print(ctx, { ...rest, specimenIds: [id] }, 'id');
    },

    /**
     * Labels for the actor's specimens, in the order given (an id twice prints twice). Throws
     * SPECIMEN_NOT_FOUND (naming the first unknown id), VALIDATION_FAILED (a Code 128 too long
     * for the label size), FORBIDDEN.
     */
    printLabels(ctx: Ctx, input: PrintLabelsInput) {
      return print(ctx, input, 'specimenIds');
    },
  };
}

export type LabelService = ReturnType<typeof createLabelService>;
