/**
 * The contract of a release transform (transforms/*.ts): metadata plus a pure matcher from a
 * release call to a target-independent Replacement. Transforms never touch files; the planner
 * owns grouping, hazards, rendering and edits (jscodeshift's split of concerns).
 */
import type { Node } from '../parse/kernel-c.ts';
import type { DiagnosticCode } from '../sites/diagnostics.ts';
import type { FileFacts, FnInfo, ReleaseCall } from '../sites/dataflow.ts';
import type { Replacement } from './replacement.ts';

export interface TransformMeta {
  name: string;
  description: string;
  /** A one-line before → after example of the shape. */
  example: string;
}

export interface ReleaseContext {
  text: string;
  facts: FileFacts;
  /** Is `count` the number of pages the group's acquires pinned (H5)? */
  isPinnedCount(count: Node, fn: FnInfo): boolean;
  /** May `count` hold a negative errno at `at` (H6)? */
  mayBeNegative(count: Node, at: Node, fn: FnInfo): boolean;
}

export interface Match {
  transform: string;
  replacement: Replacement;
  /** Variables that may have lost their last use (their declarations are then removed). */
  maybeUnused?: string[];
  /** Behaviour differences the rewrite introduces on purpose (H7), named for the report. */
  differences?: string[];
}

export interface Refusal {
  refuse: DiagnosticCode;
  message: string;
}

export type MatchResult = Match | Refusal | undefined;

export interface ReleaseTransform {
  meta: TransformMeta;
  match(rel: ReleaseCall, ctx: ReleaseContext): MatchResult;
}

export const isRefusal = (r: unknown): r is Refusal => !!r && typeof r === 'object' && 'refuse' in r;
