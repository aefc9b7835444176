// voxgate provider plugin for OpenAI's speech API (`POST /v1/audio/speech`), written in
// JavaScript and built into a WebAssembly component with ComponentizeJS, the engine of
// `jco componentize` (see build.sh).
//
// It shows that a plugin need not be written in Rust: this file implements the exports of
// the `voxgate:provider/provider` interface from `wit/provider.wit`. jco maps WIT types to
// JavaScript as follows. Records are objects with camelCase fields, enums are strings such as
// "mp3", variants are `{ tag, val }`, options are a value or `undefined`, `list<u8>` is a
// Uint8Array, and a thrown value becomes the `err` of a `result`.
//
// Like every provider, it is a pure translator that never performs I/O. The host sends the
// request, fills in the API key for the declared host only, and streams the audio.

const PROVIDER_ID = "openai-js";
const VERSION = "0.1.0";
const DEFAULT_BASE_URL = "https://api.openai.com";
const API_KEY = "api-key";

// OpenAI's limit on `input`, in characters.
const MAX_CHARACTERS = 4096;
// OpenAI's speed range, inclusive.
const MIN_SPEED = 0.25;
const MAX_SPEED = 4.0;
// OpenAI sends `pcm` and `wav` at this rate, in hertz.
const SAMPLE_RATE = 24000;
// The maximum characters of a response body quoted in an error message.
const EXCERPT_CHARS = 200;

const MODELS = [
  { id: "tts-1", name: "TTS-1", price: 15.0 },
  { id: "tts-1-hd", name: "TTS-1 HD", price: 30.0 },
];
const FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"];
const VOICES = ["alloy", "ash", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer"];

// Reads the `base-url` setting into the host as `provider-info.hosts` lists it (`name` or
// `name:port`) and the speech URL. Throws a settings-error record for an unusable value.
function readConfig(settings) {
  const setting = settings.find((entry) => entry.name === "base-url");
  const value = setting && setting.value !== "" ? setting.value : DEFAULT_BASE_URL;
  const match = /^(https?):\/\/([a-z0-9.-]+|\[[0-9a-f:]+\])(?::([0-9]{1,5}))?(\/[^?#]*)?$/i.exec(value);
  if (match === null) {
    throw {
      name: "base-url",
      message: "must be an absolute http or https URL without user, query or fragment, such as https://api.openai.com",
    };
  }
  const scheme = match[1].toLowerCase();
  const hostName = match[2].toLowerCase();
  const defaultPort = scheme === "https" ? "443" : "80";
  const port = match[3] !== undefined && match[3] !== defaultPort ? match[3] : undefined;
  const host = port === undefined ? hostName : `${hostName}:${port}`;
  const path = (match[4] || "").replace(/\/+$/, "");
  // A base URL that already ends in /v1 is the API root, as OpenAI-compatible servers use it.
  const speechPath = path.endsWith("/v1") ? `${path}/audio/speech` : `${path}/v1/audio/speech`;
  return { host, speechUrl: `${scheme}://${host}${speechPath}` };
}

function describe(settings) {
  const config = readConfig(settings);
  return {
    id: PROVIDER_ID,
    name: "OpenAI (JavaScript plugin)",
    version: VERSION,
    models: MODELS.map((model) => ({
      id: model.id,
      name: model.name,
      languages: [],
      pricePerMillionCharacters: model.price,
      maxCharacters: MAX_CHARACTERS,
      formats: FORMATS,
      streaming: true,
      instructions: false,
    })),
    voices: VOICES.map((id) => ({ id, name: id[0].toUpperCase() + id.slice(1), languages: [], models: [] })),
    defaultModel: MODELS[0].id,
    defaultVoice: VOICES[0],
    hosts: [config.host],
    secrets: [
      {
        name: API_KEY,
        description: "OpenAI API key, sent as `Authorization: Bearer <key>`",
        env: "OPENAI_API_KEY",
        required: true,
      },
    ],
    settings: [
      {
        name: "base-url",
        description: "Origin of the OpenAI API or of an OpenAI-compatible server; speech goes to {base-url}/v1/audio/speech",
        default: DEFAULT_BASE_URL,
      },
    ],
  };
}

function providerError(tag, message) {
  return { tag, val: message };
}

// Returns the format of the audio OpenAI will send, or throws `unsupported` for a request
// this provider cannot serve, so that the host falls back to another provider.
function checkOffered(request) {
  if (!MODELS.some((model) => model.id === request.model)) {
    throw providerError("unsupported", `OpenAI has no speech model \`${request.model}\` in this plugin`);
  }
  if (!VOICES.includes(request.voice)) {
    throw providerError("unsupported", `voice \`${request.voice}\` is not one of ${VOICES.join(", ")}`);
  }
  const container = request.format.container;
  if (!FORMATS.includes(container)) {
    throw providerError("unsupported", `OpenAI has no ${container} output`);
  }
  const headerless = container === "pcm" || container === "wav";
  const rate = request.format.sampleRate;
  if (headerless && rate !== undefined && rate !== SAMPLE_RATE) {
    throw providerError("unsupported", `OpenAI sends ${container} at ${SAMPLE_RATE} Hz only, not ${rate} Hz`);
  }
  if (request.timestamps) {
    throw providerError("unsupported", "OpenAI's speech API returns no timestamps");
  }
  if (request.instructions !== undefined && request.instructions.trim() !== "") {
    throw providerError("unsupported", `\`${request.model}\` does not take instructions`);
  }
  return { container, sampleRate: headerless ? SAMPLE_RATE : undefined, bitrate: undefined };
}

// Throws `invalid-request` for text, speed or options that no provider would accept.
function checkRequest(request) {
  if (request.text.trim() === "") {
    throw providerError("invalid-request", "the text is empty or only whitespace");
  }
  // Limits count Unicode scalar values: the string iterator yields one per code point.
  const characters = [...request.text].length;
  if (characters > MAX_CHARACTERS) {
    throw providerError("invalid-request", `the text has ${characters} characters, OpenAI accepts at most ${MAX_CHARACTERS}`);
  }
  const speed = request.speed;
  if (speed !== undefined && !(speed >= MIN_SPEED && speed <= MAX_SPEED)) {
    throw providerError("invalid-request", `speed ${speed} is out of range; OpenAI accepts ${MIN_SPEED} to ${MAX_SPEED}`);
  }
  if (request.options.trim() !== "" && request.options.trim() !== "{}") {
    throw providerError("invalid-request", "this plugin accepts no provider options");
  }
}

function synthesize(request, settings) {
  let config;
  try {
    config = readConfig(settings);
  } catch (error) {
    throw { tag: "misconfigured", val: error };
  }
  const format = checkOffered(request);
  checkRequest(request);

  const body = { model: request.model, input: request.text, voice: request.voice, response_format: format.container };
  if (request.speed !== undefined) {
    // An f32 such as 1.1 arrives as 1.100000023841858; send the decimal the caller wrote.
    body.speed = Number(request.speed.toPrecision(6));
  }
  return {
    tag: "stream",
    val: {
      request: {
        method: "post",
        url: config.speechUrl,
        headers: [
          // A reference, not the key: the host fills it in for declared hosts only.
          { name: "authorization", value: { tag: "secret", val: { name: API_KEY, prefix: "Bearer ", suffix: "" } } },
          { name: "content-type", value: { tag: "text", val: "application/json" } },
        ],
        body: new TextEncoder().encode(JSON.stringify(body)),
      },
      format,
      billedCharactersHeader: undefined,
    },
  };
}

// Returns one header's value, compared case-insensitively, or undefined.
function responseHeader(response, name) {
  const found = response.headers.find(([header]) => header.toLowerCase() === name);
  return found === undefined ? undefined : found[1];
}

// Reads Retry-After in seconds (fractions allowed), rounded up to milliseconds. An HTTP date
// counts as absent, because a plugin has no clock to subtract it from.
function retryAfterMs(response) {
  const value = responseHeader(response, "retry-after");
  if (value === undefined || !/^\s*[0-9]+(\.[0-9]+)?\s*$/.test(value)) {
    return undefined;
  }
  return BigInt(Math.ceil(Number(value) * 1000));
}

// Returns a printable, bounded excerpt of a body: never the whole of a large body.
function excerpt(body) {
  const head = new TextDecoder("utf-8", { fatal: false }).decode(body.subarray(0, (EXCERPT_CHARS + 1) * 4));
  const printable = [...head.replace(/\s+/g, " ").trim()].filter((c) => c >= " " && c !== "\u007f");
  const text = printable.slice(0, EXCERPT_CHARS).join("");
  return printable.length > EXCERPT_CHARS ? `${text}…` : text;
}

// Reads OpenAI's `{"error": {"message", "type", "code"}}`, or returns undefined.
function parseError(body) {
  if (body.length > 65536) {
    // An error body this large is not OpenAI's; do not spend memory parsing it.
    return undefined;
  }
  try {
    const value = JSON.parse(new TextDecoder().decode(body));
    const error = value !== null && typeof value === "object" ? value.error : undefined;
    if (error === null || typeof error !== "object" || typeof error.message !== "string") {
      return undefined;
    }
    const code = typeof error.code === "string" ? error.code : typeof error.type === "string" ? error.type : undefined;
    return { message: excerpt(new TextEncoder().encode(error.message)), code };
  } catch {
    return undefined;
  }
}

// OpenAI's 401 message quotes part of the rejected key; keep every `sk-` word out of errors.
function redactKeys(text) {
  return text.replace(/sk-[A-Za-z0-9_*.-]+/g, "[redacted]");
}

// Classifies a response that was not audio. The host calls `resume` for a `stream` step only
// then, so even a 2xx status means OpenAI sent something this plugin cannot use.
function resume(response) {
  const status = response.status;
  const error = parseError(response.body);
  const detail = error === undefined ? `the body starts with "${excerpt(response.body)}"` : `${error.code ?? "error"}: ${error.message}`;
  const message = redactKeys(`OpenAI returned HTTP ${status}: ${detail}`);

  if (status >= 200 && status < 300) {
    throw providerError("invalid-response", message);
  }
  if (status === 429 && error !== undefined && error.code === "insufficient_quota") {
    throw providerError("quota-exceeded", message);
  }
  switch (true) {
    case status === 400 || status === 422:
      throw providerError("invalid-request", message);
    case status === 401 || status === 403:
      throw providerError("unauthorized", message);
    case status === 402:
      throw providerError("quota-exceeded", message);
    // OpenAI answers 404 for a model this key cannot use: another provider may serve it.
    case status === 404:
      throw providerError("unsupported", message);
    case status === 408 || status === 409 || status >= 500:
      throw providerError("unavailable", message);
    case status === 429:
      throw providerError("rate-limited", { message, retryAfterMs: retryAfterMs(response) });
    default:
      throw providerError("invalid-response", message);
  }
}

export const provider = { describe, synthesize, resume };
