// Models screen: not built yet.

/** Models is the Models screen. */
export default function Models() {
  return (
    <section>
      <h1>Models</h1>
      <p className="muted">This screen is not built yet.</p>
    </section>
  );
}
