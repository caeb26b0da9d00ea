// Benchmarks screen: not built yet.

/** Benchmarks is the Benchmarks screen. */
export default function Benchmarks() {
  return (
    <section>
      <h1>Benchmarks</h1>
      <p className="muted">This screen is not built yet.</p>
    </section>
  );
}
