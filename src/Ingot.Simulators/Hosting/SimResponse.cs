using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Ingot.Simulators;

/// <summary>A fully buffered answer, so faults can truncate it and Content-Length is always known.</summary>
internal sealed record SimResponse(int Status, string ContentType, byte[] Body)
{
    public const string Json = "application/json";

    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    public string? Fault { get; init; }

    public TimeSpan? RetryAfter { get; init; }

    public static SimResponse Text(int status, string contentType, string body) => new(status, contentType, Encoding.UTF8.GetBytes(body));

    public static SimResponse JsonBody(int status, string contentType, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            write(writer);
        }

        return new SimResponse(status, contentType, buffer.WrittenSpan.ToArray());
    }

    /// <summary>A JSON object with one string property, e.g. <c>{"detail":"..."}</c>.</summary>
    public static SimResponse Message(int status, string key, string message) =>
        JsonBody(status, Json, w =>
        {
            w.WriteStartObject();
            w.WriteString(key, message);
            w.WriteEndObject();
        });
}
