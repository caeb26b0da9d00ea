// Access screen: not built yet.

/** Access is the Access screen. */
export default function Access() {
  return (
    <section>
      <h1>Access</h1>
      <p className="muted">This screen is not built yet.</p>
    </section>
  );
}
