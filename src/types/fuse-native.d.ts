// Minimal typings for fuse-native 2.2.6 (the package ships none).
declare module 'fuse-native' {
  export interface FuseOptions {
    force?: boolean;
    mkdir?: boolean;
    debug?: boolean;
    allowOther?: boolean;
    autoUnmount?: boolean;
    defaultPermissions?: boolean;
    kernelCache?: boolean;
    autoCache?: boolean;
    /** Appended verbatim to -o: also carries options the binding does not expose. */
    fsname?: string;
    subtype?: string;
    /** Numbers are dropped when 0: pass '0' as a string. */
    attrTimeout?: number | string;
    entryTimeout?: number | string;
    acAttrTimeout?: number | string;
    maxRead?: number;
    timeout?: number | false | Record<string, number>;
  }
  export default class Fuse {
    constructor(mnt: string, ops: object, opts?: FuseOptions);
    mount(cb: (err: Error | null) => void): void;
    unmount(cb: (err: Error | null) => void): void;
    static unmount(mnt: string, cb: (err: Error | null) => void): void;
  }
}
