/**
 * The release transforms, in the order they are tried: the first that recognises a release
 * (or refuses it) decides. Adding a shape = one module here, with its fixture.
 */
import type { ReleaseTransform } from '../src/plan/transform.ts';
import { interimApi } from './interim-api.ts';
import { pagePair } from './page-pair.ts';
import { releasePages } from './release-pages.ts';
import { wholeLoop } from './whole-loop.ts';

export const RELEASE_TRANSFORMS: ReleaseTransform[] = [wholeLoop, pagePair, releasePages, interimApi];

export { rewriteAcquire, type Edit } from './acquire.ts';
