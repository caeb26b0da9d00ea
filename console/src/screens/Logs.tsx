// Logs screen: not built yet.

/** Logs is the Logs screen. */
export default function Logs() {
  return (
    <section>
      <h1>Logs</h1>
      <p className="muted">This screen is not built yet.</p>
    </section>
  );
}
