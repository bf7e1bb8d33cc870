ALTER TABLE "container" ADD COLUMN "location_chain" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "container" ADD COLUMN "location_chain_version" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
-- location_chain is derived: the container and its ancestors (root first) with what a location
-- path shows. Computed from ancestor_ids, so the order in which one statement updates many
-- containers (moving a rack updates every box under it) does not matter. Its version goes up with
-- every change of the chain, so a process that keeps chains in memory (the scan lookup) can name
-- one by (container id, version) and never serve a stale one.
CREATE FUNCTION container_location_chain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.location_chain := coalesce(
      (SELECT jsonb_agg(jsonb_build_object('id', a.id, 'kind', a.kind, 'name', a.name, 'barcode', a.barcode,
                                           'gridRows', a.grid_rows, 'gridCols', a.grid_cols, 'gridScheme', a.grid_scheme)
                        ORDER BY x.ord)
         FROM unnest(NEW.ancestor_ids) WITH ORDINALITY AS x(id, ord)
         JOIN container a ON a.id = x.id),
      '[]'::jsonb)
    || jsonb_build_array(jsonb_build_object('id', NEW.id, 'kind', NEW.kind, 'name', NEW.name, 'barcode', NEW.barcode,
                                            'gridRows', NEW.grid_rows, 'gridCols', NEW.grid_cols, 'gridScheme', NEW.grid_scheme));
  IF TG_OP = 'UPDATE' THEN
    NEW.location_chain_version := CASE WHEN NEW.location_chain IS DISTINCT FROM OLD.location_chain
                                       THEN OLD.location_chain_version + 1 ELSE OLD.location_chain_version END;
  ELSE
    NEW.location_chain_version := 1;
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER container_location_chain_set
  BEFORE INSERT OR UPDATE OF ancestor_ids, kind, name, barcode, grid_rows, grid_cols, grid_scheme, location_chain, location_chain_version
  ON container FOR EACH ROW EXECUTE FUNCTION container_location_chain();
--> statement-breakpoint
-- A container whose shown fields change refreshes the chains of everything below it.
CREATE FUNCTION container_location_chain_descendants() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE container SET ancestor_ids = ancestor_ids
   WHERE ancestor_ids @> ARRAY[NEW.id] AND institution_id = NEW.institution_id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER container_location_chain_cascade
  AFTER UPDATE OF kind, name, barcode, grid_rows, grid_cols, grid_scheme ON container FOR EACH ROW
  WHEN (OLD.location_chain IS DISTINCT FROM NEW.location_chain)
  EXECUTE FUNCTION container_location_chain_descendants();
--> statement-breakpoint
UPDATE container SET ancestor_ids = ancestor_ids;
