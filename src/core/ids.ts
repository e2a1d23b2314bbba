/**
 * Branded ids: a hash of content and a stage's address are both strings, and a brand keeps one from being passed
 * where the other is expected. They are declared here, in the core every layer shares, and not yet adopted: the
 * modules that create these values (hashing, the graph) will cast once where an id is made, and every consumer then
 * takes the branded type.
 */
declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A content hash as DVC writes it (`md5` hex of a file; of a directory's manifest, with the `.dir` suffix). */
export type ObjectId = Brand<string, "ObjectId">;

/** A stage's address as the CLI prints it: `name`, `dir/dvc.yaml:name`, or `name@key` for a generated member. */
export type StageAddress = Brand<string, "StageAddress">;
