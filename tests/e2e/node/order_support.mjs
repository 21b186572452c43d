// The seed's order-support assistant, written as its blog post writes it, run with the official
// openai Node SDK against Concierge. Only the base URL and the key differ from OpenAI's.
//
//   CONCIERGE_BASE_URL=http://127.0.0.1:8000/v1 CONCIERGE_API_KEY=ck_… node order_support.mjs
//
// It prints each final answer, then one JSON summary line (what tests/e2e/test_openai_node_sdk.py reads).
import OpenAI from "openai";

const openai = new OpenAI({
  baseURL: process.env.CONCIERGE_BASE_URL,
  apiKey: process.env.CONCIERGE_API_KEY,
});

// The shop's own backend, on the caller's side: Concierge never sees these, only their outputs.
const ORDERS = {
  "ORD-12345": {
    email: "jane@example.com",
    status: "shipped",
    carrier: "UPS",
    estimatedDelivery: "2026-12-02",
    items: [{ itemId: "ITEM-1", name: "Blue shirt" }],
  },
};
const orderService = {
  async getStatus(orderId, email) {
    const order = ORDERS[orderId];
    if (!order || order.email !== email) return { found: false, message: "No order matches that number and email." };
    const { status, carrier, estimatedDelivery, items } = order;
    return { orderId, status, carrier, estimatedDelivery, items };
  },
  async initiateReturn({ orderId, itemId, reason }) {
    if (!ORDERS[orderId]) return { success: false, message: `Order ${orderId} not found.` };
    return { success: true, returnId: "RMA-1001", orderId, itemId, reason, status: "requested" };
  },
};

async function createAssistant() {
  return openai.beta.assistants.create({
    name: "Order Support Agent",
    instructions: "You help customers check order status, process returns, and track shipments.",
    model: "gpt-4o",
    tools: [
      {
        type: "function",
        function: {
          name: "get_order_status",
          description: "Get the current status of an order by order ID",
          parameters: {
            type: "object",
            properties: {
              orderId: { type: "string", description: "The order ID to look up" },
              email: { type: "string", description: "Customer email for verification" },
            },
            required: ["orderId", "email"],
          },
        },
      },
      {
        type: "function",
        function: {
          name: "initiate_return",
          description: "Start a return process for an order item",
          parameters: {
            type: "object",
            properties: {
              orderId: { type: "string" },
              itemId: { type: "string" },
              reason: { type: "string", enum: ["defective", "wrong_item", "not_needed", "other"] },
            },
            required: ["orderId", "itemId", "reason"],
          },
        },
      },
    ],
  });
}

async function executeTool(name, args) {
  switch (name) {
    case "get_order_status":
      return orderService.getStatus(args.orderId, args.email);
    case "initiate_return":
      return orderService.initiateReturn(args);
    default:
      throw new Error(`Unknown tool ${name}`);
  }
}

// The seed's parallel handler: every call of the required action at once, failures as structured output.
async function handleToolCalls(requiredAction, log) {
  const toolCalls = requiredAction.submit_tool_outputs.tool_calls;
  const results = await Promise.allSettled(
    toolCalls.map(async (tc) => {
      const args = JSON.parse(tc.function.arguments);
      const output = await executeTool(tc.function.name, args);
      log.push({ name: tc.function.name, arguments: args, output });
      return { tool_call_id: tc.id, output: JSON.stringify(output) };
    }),
  );
  return results.map((r, i) => {
    if (r.status === "fulfilled") return r.value;
    return { tool_call_id: toolCalls[i].id, output: JSON.stringify({ error: r.reason.message }) };
  });
}

// The seed's "Complete Conversation Flow", with one fix: the stream that submitToolOutputs returns is
// read too (the seed awaited it and dropped it, so the answer written after the tool call was lost).
async function chat(assistantId, userMessage, threadId) {
  if (!threadId) {
    const thread = await openai.beta.threads.create();
    threadId = thread.id;
  }
  await openai.beta.threads.messages.create(threadId, { role: "user", content: userMessage });

  let stream = await openai.beta.threads.runs.create(threadId, { assistant_id: assistantId, stream: true });
  const response = { text: "", threadId, toolCalls: [], events: [] };
  while (stream) {
    let next = null;
    for await (const event of stream) {
      response.events.push(event.event);
      switch (event.event) {
        case "thread.message.delta": {
          const delta = event.data.delta.content?.[0];
          if (delta?.type === "text") response.text += delta.text.value;
          break;
        }
        case "thread.run.requires_action": {
          const outputs = await handleToolCalls(event.data.required_action, response.toolCalls);
          // Submit outputs and continue in the stream this returns.
          next = await openai.beta.threads.runs.submitToolOutputs(event.data.id, {
            thread_id: threadId,
            tool_outputs: outputs,
            stream: true,
          });
          break;
        }
        case "thread.run.completed":
          response.status = "completed";
          break;
        case "thread.run.failed":
          throw new Error(`Run failed: ${event.data.last_error?.message}`);
      }
    }
    stream = next;
  }
  return response;
}

// A customer's side of the conversation, one chat() per message, on one thread.
const CUSTOMER = [
  "Hi! Where is my order ORD-12345? My email is jane@example.com",
  "I'd like to return the blue shirt from that order, it arrived defective.",
  "Yes, please go ahead.",
];

const assistant = await createAssistant();
const turns = [];
let threadId;
for (const message of CUSTOMER) {
  const turn = await chat(assistant.id, message, threadId);
  threadId = turn.threadId;
  turns.push(turn);
  console.log(turn.text);
}
const stored = await openai.beta.threads.messages.list(threadId, { order: "asc" });
console.log(
  JSON.stringify({
    assistantId: assistant.id,
    threadId,
    turns: turns.map(({ text, status, toolCalls, events }) => ({ text, status, toolCalls, events })),
    storedMessages: stored.data.map((m) => ({ role: m.role, text: m.content[0]?.text?.value })),
  }),
);
