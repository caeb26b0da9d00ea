// Knowledge bases screen: not built yet.

/** KnowledgeBases is the Knowledge bases screen. */
export default function KnowledgeBases() {
  return (
    <section>
      <h1>Knowledge bases</h1>
      <p className="muted">This screen is not built yet.</p>
    </section>
  );
}
