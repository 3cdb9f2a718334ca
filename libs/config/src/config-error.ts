// A bad config value, said the way the operator reads it. Its own file, free of
// the schema and YAML libraries, so the CLI can use it without loading them at
// every start.
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    // One problem, one line: what the operator sees on stderr.
    super(problems.length === 1 ? (problems[0] ?? '') : `invalid configuration:\n  ${problems.join('\n  ')}`);
    this.problems = problems;
    this.name = 'ConfigError';
  }
}
