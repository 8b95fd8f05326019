/**
 * The fuzz Checker's child process: answers each { text, target } with checkText's outcome,
 * and leaves when its parent disconnects (or dies).
 */
import { checkText } from './check.ts';

process.on('message', ({ text, target }: { text: string; target: string }) => process.send!(checkText(text, target)));
process.on('disconnect', () => process.exit(0));
process.send!('ready');
