/**
 * Types for the parts of erlang_js 2.0.7 (a devDependency, used only as a baseline in
 * bench/term.ts) that the benchmark calls. The package ships no types.
 */
declare module 'erlang_js' {
  type Callback<T> = (error: Error | undefined, value: T | undefined) => void;

  interface ErlangJs {
    /** `utf8` defaults to true (SMALL_ATOM_UTF8_EXT). */
    OtpErlangAtom: new (
      value: string,
      utf8?: boolean,
    ) => object;
    /** `bits` defaults to 8 (a whole-byte binary). */
    OtpErlangBinary: new (
      value: Buffer,
      bits?: number,
    ) => object;
    OtpErlangList: new (value: unknown[], improper?: boolean) => object;
    OtpErlangMap: new (value: Map<unknown, unknown>) => object;
    /** Calls back synchronously unless `compressed` is set. JS arrays encode as tuples. */
    term_to_binary(term: unknown, callback: Callback<Buffer>, compressed?: boolean | number): void;
    /** Calls back synchronously for uncompressed input. */
    binary_to_term(data: Buffer, callback: Callback<unknown>): void;
  }

  const erlangJs: { readonly Erlang: ErlangJs };
  export default erlangJs;
}
