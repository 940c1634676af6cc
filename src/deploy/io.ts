import * as readline from 'readline';

/** Where the CLI writes and what it reads from its environment (the process's, or a test's). */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Answers a yes/no question; `undefined` when there is no terminal to ask on. */
  readonly confirm?: (question: string) => Promise<boolean>;
  /** Registers a Ctrl-C handler for the duration of a deploy; returns its remover. */
  readonly onInterrupt?: (handler: () => void) => () => void;
  /** Rewrites one progress line in place (a terminal) instead of printing it. */
  readonly progressInPlace?: boolean;
}

/** The process's own terminal and signals. */
export function processIo(): CliIo {
  const interactive = process.stdin.isTTY === true && process.stderr.isTTY === true;
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    progressInPlace: process.stderr.isTTY === true,
    confirm: interactive
      ? (question) => new Promise((resolve) => {
        const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
        rl.question(question, (answer) => {
          rl.close();
          resolve(/^y(es)?$/i.test(answer.trim()));
        });
      })
      : undefined,
    onInterrupt: (handler) => {
      let count = 0;
      const listener = () => {
        count += 1;
        if (count > 1) process.exit(130);
        handler();
      };
      process.on('SIGINT', listener);
      process.on('SIGTERM', listener);
      return () => {
        process.off('SIGINT', listener);
        process.off('SIGTERM', listener);
      };
    },
  };
}
