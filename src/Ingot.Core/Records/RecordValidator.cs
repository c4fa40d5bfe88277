using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ingot.Config;
using Json.Schema;

namespace Ingot.Records;

/// <summary>
/// A pipeline's JSON Schema, loaded once and applied to one record at a time. The schema's <c>$schema</c> picks the
/// dialect (draft-06, draft-07, 2019-09, 2020-12); without one it is read as draft 2020-12. Known formats
/// (<c>date-time</c>, <c>email</c>, <c>uuid</c>, …) are asserted in every dialect, as a bronze check wants them and
/// as the earlier validator did; a format the validator does not know (<c>int64</c>, say) stays an annotation.
/// A <c>$ref</c> may name another schema file relative to this one; nothing is fetched over the network.
/// </summary>
internal sealed partial class RecordValidator
{
    private static readonly JsonDocumentOptions SchemaText = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    // The dialects a $schema may name (compared without a trailing '#': both spellings are in use).
    private static readonly string[] Dialects = [.. new[] { Dialect.Draft06, Dialect.Draft07, Dialect.Draft201909, Dialect.Draft202012 }
        .Select(d => d.Id?.OriginalString).OfType<string>()];

    // Most records are valid: a pass/fail evaluation answers those; only a failed record is evaluated again for why.
    private static readonly EvaluationOptions Check = new() { OutputFormat = OutputFormat.Flag, RequireFormatValidation = true };
    private static readonly EvaluationOptions Explain = new() { OutputFormat = OutputFormat.List, RequireFormatValidation = true };

    private readonly JsonSchema _schema;

    private RecordValidator(JsonSchema schema) => _schema = schema;

    /// <summary>Reads and builds the schema; a file that is not a usable schema is a <see cref="ConfigException"/>.</summary>
    public static async Task<RecordValidator> LoadAsync(string schemaPath, CancellationToken cancellationToken)
    {
        var path = Path.GetFullPath(schemaPath);
        string text;
        try
        {
            text = await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"{schemaPath}: cannot read the JSON Schema: {e.Message}");
        }
        JsonElement root;
        try
        {
            using var doc = JsonDocument.Parse(text, SchemaText);
            root = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new ConfigException($"{schemaPath}: not a usable JSON Schema: not valid JSON: {e.Message}");
        }
        if (root.ValueKind is not (JsonValueKind.Object or JsonValueKind.True or JsonValueKind.False))
            throw new ConfigException($"{schemaPath}: not a usable JSON Schema: the document is {root.ValueKind.ToString().ToLowerInvariant()}, not an object or a boolean");
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("$schema", out var declared)
            && (declared.ValueKind != JsonValueKind.String || !Dialects.Any(d => d.TrimEnd('#') == declared.GetString()!.TrimEnd('#'))))
            throw new ConfigException($"{schemaPath}: not a usable JSON Schema: $schema {declared.GetRawText()} is not a dialect this validator knows "
                + $"({string.Join(", ", Dialects)})");
        try
        {
            // A registry of its own per schema: no process-wide state, and two pipelines may declare the same $id.
            var registry = new SchemaRegistry { Fetch = (uri, reg) => FetchFile(uri, reg) };
            var schema = JsonSchema.Build(root, Options(registry), new Uri(path));
            // The library keeps a $ref it cannot resolve and throws when a record reaches it: find that now.
            if (UnresolvedRef(schema.Root) is { } missing)
                throw new ConfigException($"{schemaPath}: not a usable JSON Schema: $ref \"{missing.RawValue.GetString()}\" ({missing.Value}) resolves to no schema "
                    + "(a $ref may name this file or a schema file beside it)");
            return new RecordValidator(schema);
        }
        catch (Exception e) when (e is JsonSchemaException or JsonException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            // ArgumentException covers a "pattern" that is not a regular expression (RegexParseException).
            throw new ConfigException($"{schemaPath}: not a usable JSON Schema: {e.Message}");
        }
    }

    /// <summary>Why the record breaks the schema, one line per failure (<c>#/field: reason</c>); empty when valid.</summary>
    public IReadOnlyList<string> Validate(ReadOnlySpan<byte> utf8Json)
    {
        JsonDocument doc;
        try
        {
            var reader = new Utf8JsonReader(utf8Json);
            doc = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException e)
        {
            return [$"#: not valid JSON: {e.Message}"];
        }
        using (doc)
        {
            if (_schema.Evaluate(doc.RootElement, Check).IsValid) return [];
            return Explained(_schema.Evaluate(doc.RootElement, Explain));
        }
    }

    private static List<string> Explained(EvaluationResults results)
    {
        IReadOnlyList<EvaluationResults> nodes = results.Details is { Count: > 0 } details ? details : [results];
        var errors = new List<string>();
        foreach (var node in nodes)
        {
            if (node.IsValid || node.Errors is null) continue;
            foreach (var (keyword, message) in node.Errors)
                // The library reports a false subschema (additionalProperties: false, …) without a keyword.
                errors.Add(keyword.Length == 0
                    ? $"{Location(node)}: not allowed by {Fragment(node.EvaluationPath.ToString())}"
                    : $"{Location(node)}: {Unescaped(message)}");
        }
        // "not" and a "oneOf" that more than one branch matches fail without a message of their own: name the
        // deepest failing places, so an invalid record never comes back with an empty list (that would mean valid).
        foreach (var node in nodes)
        {
            if (node.IsValid || node.Errors is { Count: > 0 }) continue;
            var path = node.EvaluationPath.ToString();
            var below = nodes.Where(n => n.EvaluationPath.ToString().StartsWith(path + "/", StringComparison.Ordinal)).ToList();
            if (below.Any(n => !n.IsValid)) continue;
            var matchedOneOf = below.Count(n => n.IsValid && n.EvaluationPath.ToString().StartsWith(path + "/oneOf/", StringComparison.Ordinal));
            errors.Add(below.Any(n => n.EvaluationPath.ToString() == path + "/not")
                ? $"{Location(node)}: matches the schema at {Fragment(path + "/not")}, which it must not"
                : matchedOneOf > 1
                    ? $"{Location(node)}: matches {matchedOneOf} schemas of {Fragment(path + "/oneOf")}, exactly one allowed"
                    : $"{Location(node)}: does not match the schema at {Fragment(path)}");
        }
        if (errors.Count == 0) errors.Add("#: does not match the schema");
        return errors;
    }

    private static KeywordData? UnresolvedRef(JsonSchemaNode root)
    {
        var seen = new HashSet<JsonSchemaNode>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<JsonSchemaNode>([root]);
        while (pending.TryPop(out var node))
        {
            if (!seen.Add(node)) continue;
            foreach (var keyword in node.Keywords)
            {
                // A resolved $ref holds its target as its one subschema.
                if (keyword.Handler.Name == "$ref" && keyword.Subschemas is not { Length: > 0 }) return keyword;
                foreach (var sub in keyword.Subschemas ?? []) pending.Push(sub);
            }
        }
        return null;
    }

    // The library writes values into its messages JSON-encoded for HTML ("\u0022" for a quote): show them as text.
    private static string Unescaped(string message) => message.Contains("\\u", StringComparison.Ordinal)
        ? EscapedChar().Replace(message, m => ((char)int.Parse(m.ValueSpan[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToString())
        : message;

    [GeneratedRegex(@"\\u(?!00[01][0-9A-Fa-f])[0-9A-Fa-f]{4}")]
    private static partial Regex EscapedChar();

    private static string Location(EvaluationResults node) => Fragment(node.InstanceLocation.ToString());

    private static string Fragment(string pointer) => "#" + pointer;

    private static BuildOptions Options(SchemaRegistry registry) => new() { Dialect = Dialect.Draft202012, SchemaRegistry = registry };

    private static JsonSchema? FetchFile(Uri uri, SchemaRegistry registry) =>
        uri.IsFile && File.Exists(uri.LocalPath) ? JsonSchema.FromFile(uri.LocalPath, Options(registry), uri) : null;
}
