using System.Buffers;
using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ingot.Cli.Output;

/// <summary>
/// One log event as a JSON object, written with <see cref="Utf8JsonWriter"/> for the values events carry (strings,
/// numbers, instants, ids, lists, maps, JSON nodes) — the same text <see cref="JsonSerializer"/> gives them, without its
/// reflection: serializing an <c>object</c> through the reflection resolver builds (and JIT-compiles) its converter set on
/// the first event, ~50 ms before a run's first request (measured with <c>DOTNET_JitStdOutFile</c> on the R2R build).
/// Other types still go through the serializer.
/// </summary>
internal static class JsonLine
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonSerializerOptions Fallback = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Write(IEnumerable<KeyValuePair<string, object?>> fields)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            foreach (var (key, value) in fields)
            {
                writer.WritePropertyName(key);
                Value(writer, value);
            }
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>One value as JSON text.</summary>
    public static string Text(object? value)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions)) Value(writer, value);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void Value(Utf8JsonWriter writer, object? value)
    {
        switch (value)
        {
            case null: writer.WriteNullValue(); break;
            case string s: writer.WriteStringValue(s); break;
            case bool b: writer.WriteBooleanValue(b); break;
            case int i: writer.WriteNumberValue(i); break;
            case long l: writer.WriteNumberValue(l); break;
            case double d when double.IsFinite(d): writer.WriteNumberValue(d); break;
            case double d: writer.WriteStringValue(d.ToString(CultureInfo.InvariantCulture)); break;
            case decimal m: writer.WriteNumberValue(m); break;
            case DateTimeOffset t: writer.WriteStringValue(t); break;
            case DateTime t: writer.WriteStringValue(t); break;
            case Guid g: writer.WriteStringValue(g); break;
            case JsonNode n: n.WriteTo(writer); break;
            case JsonElement e: e.WriteTo(writer); break;
            case IDictionary map:
                writer.WriteStartObject();
                foreach (DictionaryEntry entry in map)
                {
                    writer.WritePropertyName(Convert.ToString(entry.Key, CultureInfo.InvariantCulture)!);
                    Value(writer, entry.Value);
                }
                writer.WriteEndObject();
                break;
            case IEnumerable<KeyValuePair<string, object?>> pairs:
                writer.WriteStartObject();
                foreach (var (k, v) in pairs)
                {
                    writer.WritePropertyName(k);
                    Value(writer, v);
                }
                writer.WriteEndObject();
                break;
            case IEnumerable list:
                writer.WriteStartArray();
                foreach (var item in list) Value(writer, item);
                writer.WriteEndArray();
                break;
            default: JsonSerializer.Serialize(writer, value, value.GetType(), Fallback); break;
        }
    }
}
