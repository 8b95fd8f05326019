/** The signature line's version: ours, not git's (we are not git). */
import pkg from '../../package.json' with { type: 'json' };

export const TOOL_SIGNATURE = `gup2pin ${pkg.version}`;
