// A small useChat app built on assistant-ui's published packages, as their docs show it:
// useChatRuntime + AssistantChatTransport, pointed at Chatwire's chat endpoint. Its model context
// sets what assistant-ui sends in every request body: `tools` (a frontend tool, sent as a map
// name → {description, parameters}), `callSettings`, `config` (a browser-chosen key, base URL and
// model, which Chatwire must ignore) and, with ?system=, `system`.
import { useEffect } from 'react';
import { createRoot } from 'react-dom/client';
import { AssistantRuntimeProvider, ComposerPrimitive, MessagePrimitive, ThreadPrimitive } from '@assistant-ui/react';
import { AssistantChatTransport, useChatRuntime } from '@assistant-ui/react-ai-sdk';

const params = new URLSearchParams(window.location.search);
const block = params.get('block') ?? 'assistant-ui';
const api = `/api/ai/chat/${encodeURIComponent(block)}?preset=${encodeURIComponent(params.get('preset') ?? 'default')}`;

const weatherTool = {
  type: 'frontend',
  description: 'The weather in a city',
  parameters: {
    type: 'object',
    properties: { location: { type: 'string' } },
    required: ['location'],
  },
  execute: async ({ location }) => {
    window.toolCalls = [...(window.toolCalls ?? []), location];
    return { location, temperature: 21 };
  },
};

function App() {
  const runtime = useChatRuntime({ transport: new AssistantChatTransport({ api }) });
  useEffect(
    () =>
      runtime.registerModelContextProvider({
        getModelContext: () => ({
          ...(params.get('system') ? { system: params.get('system') } : {}),
          callSettings: { temperature: 0.3, maxTokens: 321 },
          config: { apiKey: 'sk-browser-key-0123456789', baseUrl: 'https://evil.example/v1', modelName: 'gpt-browser' },
          tools: { weather: weatherTool },
        }),
      }),
    [runtime],
  );
  return (
    <AssistantRuntimeProvider runtime={runtime}>
      <ThreadPrimitive.Root>
        <ThreadPrimitive.Viewport>
          <ThreadPrimitive.Messages components={{ UserMessage, AssistantMessage }} />
        </ThreadPrimitive.Viewport>
        <ComposerPrimitive.Root>
          <ComposerPrimitive.Input aria-label="Message" />
          <ComposerPrimitive.Send>Send</ComposerPrimitive.Send>
        </ComposerPrimitive.Root>
        <ThreadPrimitive.If running={false}>
          <p data-testid="idle">idle</p>
        </ThreadPrimitive.If>
      </ThreadPrimitive.Root>
    </AssistantRuntimeProvider>
  );
}

function UserMessage() {
  return (
    <MessagePrimitive.Root data-testid="user-message">
      <MessagePrimitive.Parts />
    </MessagePrimitive.Root>
  );
}

function AssistantMessage() {
  return (
    <MessagePrimitive.Root data-testid="assistant-message">
      <MessagePrimitive.Parts />
      <MessagePrimitive.Error>
        <p data-testid="message-error">error</p>
      </MessagePrimitive.Error>
    </MessagePrimitive.Root>
  );
}

createRoot(document.getElementById('root')).render(<App />);
