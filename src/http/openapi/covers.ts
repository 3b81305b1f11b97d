/**
 * `implements` lets an optional field of a view go undocumented (a class without it still
 * implements the view). Beside each response class whose view has optional fields, export
 * `Covers<Undocumented<View, Response>>`: it compiles only when the class declares every key
 * of the view, and the error names the missing one, so a field added to the view fails the build.
 */
export type Covers<Missing extends never> = Missing;

/** The keys of `View` that `Response` does not declare. */
export type Undocumented<View, Response> = Exclude<keyof View, keyof Response>;
