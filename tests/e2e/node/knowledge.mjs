// Files and vector stores with the official openai Node SDK against Concierge: upload a policy,
// put it in a vector store (polled until ingested), add a batch of files, search. Only the base URL
// and the key differ from OpenAI's.
//
//   CONCIERGE_BASE_URL=http://127.0.0.1:8000/v1 CONCIERGE_API_KEY=ck_… node knowledge.mjs
//
// It prints one JSON summary line (what tests/e2e/test_openai_node_sdk_knowledge.py reads).
import OpenAI, { toFile } from "openai";

const openai = new OpenAI({
  baseURL: process.env.CONCIERGE_BASE_URL,
  apiKey: process.env.CONCIERGE_API_KEY,
});

const RETURNS = `# Returns and refunds

## Return window
You can return most items within 30 days of delivery. Clothing has a longer window of 60 days.

## Refunds
Once we receive your return, we refund the item's price to your original payment method within 5 business days.
`;
const SHIPPING = `# Shipping

## Delivery times
Standard shipping takes 3 to 5 business days; express shipping arrives the next business day.
`;
const WARRANTY = `# Warranty

Every appliance is covered for two years against faults in materials and workmanship.
`;

const uploaded = await openai.files.create({
  file: await toFile(Buffer.from(RETURNS), "returns.md"),
  purpose: "assistants",
});
const downloaded = await (await openai.files.content(uploaded.id)).text();

const store = await openai.vectorStores.create({ name: "Policies", metadata: { team: "support" } });
const added = await openai.vectorStores.files.createAndPoll(
  store.id,
  { file_id: uploaded.id, attributes: { topic: "returns" } },
  { pollIntervalMs: 100 },
);
const batch = await openai.vectorStores.fileBatches.uploadAndPoll(
  store.id,
  {
    files: [
      await toFile(Buffer.from(SHIPPING), "shipping.md"),
      await toFile(Buffer.from(WARRANTY), "warranty.md"),
    ],
  },
  { pollIntervalMs: 100 },
);
const ready = await openai.vectorStores.retrieve(store.id);

const hits = [];
for await (const hit of openai.vectorStores.search(store.id, { query: "How long does express shipping take?" })) {
  hits.push({ fileId: hit.file_id, filename: hit.filename, score: hit.score, text: hit.content[0]?.text });
}
const filtered = [];
for await (const hit of openai.vectorStores.search(store.id, {
  query: "refund shipping warranty",
  filters: { type: "eq", key: "topic", value: "returns" },
})) {
  filtered.push(hit.file_id);
}
const storeFiles = [];
for await (const file of openai.vectorStores.files.list(store.id, { limit: 1 })) {
  storeFiles.push({ id: file.id, status: file.status }); // auto-pagination, one a page
}
const files = [];
for await (const file of openai.files.list()) files.push(file.id);

console.log(
  JSON.stringify({
    uploaded: { id: uploaded.id, filename: uploaded.filename, bytes: uploaded.bytes, purpose: uploaded.purpose },
    downloadedSame: downloaded === RETURNS,
    store: { id: store.id, status: store.status },
    added: { id: added.id, status: added.status, attributes: added.attributes },
    batch: { id: batch.id, status: batch.status, fileCounts: batch.file_counts },
    ready: { status: ready.status, fileCounts: ready.file_counts },
    hits,
    filtered,
    storeFiles,
    files,
  }),
);
