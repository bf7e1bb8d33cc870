// Public face of the labels module: specimen labels in ZPL, PDF and PNG. Owns no table; reads
// specimens through the specimen service it is given.
export { createLabelService, LABEL_FORMATS, type LabelService, type LabelFormat } from './labels.service.js';
export { LABEL_SIZES, SYMBOLOGIES, type LabelSize, type Symbology } from './labels.layout.js';
export { labelRoutes } from './labels.routes.js';
