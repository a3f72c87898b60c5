type AnthropicSdk = typeof import('@anthropic-ai/sdk');

let loaded: AnthropicSdk | undefined;
let loading: Promise<AnthropicSdk> | undefined;

/**
 * @anthropic-ai/sdk, imported when an Anthropic provider is first made, not with this package:
 * a deployment without an Anthropic key never needs it, and the SDK's ~270 modules cost each
 * server process ~25 MB of RSS (bench/NOTES.md).
 */
export function loadAnthropicSdk(): Promise<AnthropicSdk> {
  loading ??= import('@anthropic-ai/sdk').then((sdk) => {
    loaded = sdk;
    return sdk;
  });
  return loading;
}

/** The SDK if it has been loaded; no Anthropic error object can exist before that. */
export function loadedAnthropicSdk(): AnthropicSdk | undefined {
  return loaded;
}
