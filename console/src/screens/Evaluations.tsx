// Evaluations: this server has no evaluation-job HTTP API yet (issue #15);
// the screen says so and how to run evaluations meanwhile.

/** Evaluations is the evaluations screen. */
export default function Evaluations() {
  return (
    <section className="stack">
      <h1>Evaluations</h1>
      <div className="card stack">
        <p>
          This server has no evaluation-job API yet, so the console cannot list or start evaluation jobs. Run evaluations with{' '}
          <code>outcrop eval</code> (docs/EVALUATIONS.md): it logs each run, with its radar chart, to MLflow.
        </p>
      </div>
    </section>
  );
}
