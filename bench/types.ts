/** One benchmark figure, as `npm run bench` prints it and README's "Performance" lists it. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** the target from the issue, e.g. ">= 300000 events/s" */
  target?: string;
}
