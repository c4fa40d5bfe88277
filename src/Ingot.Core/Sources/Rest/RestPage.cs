using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ingot.Http;

namespace Ingot.Sources.Rest;

/// <summary>One record of a page: its text (a slice of the page body), cursor time, version key and event time.</summary>
internal readonly record struct PageRecord(ReadOnlyMemory<byte> Utf8, DateTimeOffset? Cursor, string Key, DateTimeOffset? EventTs);

/// <summary>
/// A page as the stream reads it: the records at the <c>records</c> path (each an object, with its cursor, key and event
/// time read), and what the paginator needs (the next cursor or URL, the total). <see cref="Problem"/> is set instead
/// when the page is JSON but not the shape the stream expects — that fails the unit, it is not retried.
/// </summary>
internal sealed class RestPage
{
    public List<PageRecord> Records { get; } = [];

    /// <summary>The records array's length as served (before any client-side filtering).</summary>
    public int Served { get; private set; }

    public string? NextToken { get; private set; }

    public long? Total { get; private set; }

    public string? Problem { get; private set; }

    /// <summary>Reads a 2xx body; returns a transient failure when it is not JSON (a maintenance page, a cut body), to be retried.</summary>
    public static HttpFailure? TryParse(byte[] body, string? contentType, int status, RestStreamSpec stream, string? nextFrom, string? totalFrom, out RestPage page)
    {
        page = new RestPage();
        // A maintenance or proxy page (even with 200) is retried, never data; other types are read if they parse as JSON
        // (some APIs label JSON text/plain).
        if (contentType is not null && (contentType.Contains("html", StringComparison.OrdinalIgnoreCase) || contentType.Contains("xml", StringComparison.OrdinalIgnoreCase)))
            return new HttpFailure(FailureKind.Transient, status, $"not JSON: content type {contentType}");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            var head = Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 60)).TrimStart();
            return new HttpFailure(FailureKind.Transient, status, head.StartsWith('<') ? "an HTML/XML page instead of JSON" : $"invalid JSON ({e.Message})");
        }
        using (doc)
        {
            page.Read(doc.RootElement, body, stream, nextFrom, totalFrom);
        }
        return null;
    }

    private void Read(JsonElement root, byte[] body, RestStreamSpec stream, string? nextFrom, string? totalFrom)
    {
        if (nextFrom is not null) NextToken = DotPath.Text(root, nextFrom);
        if (totalFrom is not null)
        {
            if (DotPath.Text(root, totalFrom) is not { } t || !long.TryParse(t, System.Globalization.CultureInfo.InvariantCulture, out var total))
            {
                Problem = $"paginate.total_from '{totalFrom}' is missing or not a whole number";
                return;
            }
            Total = total;
        }
        JsonElement list;
        if (stream.Records is null)
        {
            if (root.ValueKind != JsonValueKind.Array)
            {
                Problem = $"the body is a JSON {Kind(root)}, not a list of records (set records: to the path of the list)";
                return;
            }
            list = root;
        }
        else if (!DotPath.TryGet(root, stream.Records, out list))
        {
            Problem = $"records path '{stream.Records}' is missing";
            return;
        }
        else if (list.ValueKind != JsonValueKind.Array)
        {
            Problem = $"records path '{stream.Records}' is a JSON {Kind(list)}, not a list";
            return;
        }
        Served = list.GetArrayLength();
        var index = 0;
        foreach (var item in list.EnumerateArray())
        {
            if (ReadRecord(item, body, stream, index++) is { } problem)
            {
                Problem = problem;
                Records.Clear();
                return;
            }
        }
    }

    private string? ReadRecord(JsonElement item, byte[] body, RestStreamSpec stream, int index)
    {
        if (item.ValueKind != JsonValueKind.Object) return $"record {index} is a JSON {Kind(item)}, not an object";
        DateTimeOffset? cursor = null;
        if (stream.Incremental is { } inc)
        {
            if (!DotPath.TryGet(item, inc.Cursor, out var c) || c.ValueKind == JsonValueKind.Null)
                return $"record {index} has no cursor field '{inc.Cursor}'";
            if (!CursorTime.TryRead(c, inc.Format, out var t)) return $"record {index}: cursor field '{inc.Cursor}' holds {Clip(c.GetRawText())}, which is not a time";
            cursor = t;
        }
        DateTimeOffset? eventTs = null;
        if (stream.EventTime is { } et && DotPath.TryGet(item, et, out var e) && e.ValueKind != JsonValueKind.Null)
        {
            if (!CursorTime.TryRead(e, stream.Incremental?.Format ?? SinceFormat.Iso8601, out var t)) return $"record {index}: event_time field '{et}' holds {Clip(e.GetRawText())}, which is not a time";
            eventTs = t;
        }
        var raw = JsonMarshal.GetRawUtf8Value(item);
        var utf8 = body.AsSpan().Overlaps(raw, out var offset) ? body.AsMemory(offset, raw.Length) : raw.ToArray();
        string key;
        if (stream.PrimaryKey.Count > 0)
        {
            var sb = new StringBuilder();
            foreach (var field in stream.PrimaryKey)
            {
                if (!DotPath.TryGet(item, field, out var v) || v.ValueKind == JsonValueKind.Null) return $"record {index} has no primary key field '{field}'";
                sb.Append(v.GetRawText()).Append('\u001f');
            }
            key = sb.ToString();
        }
        else
        {
            // No primary key: the record's own text is its identity (a record served twice unchanged is one version).
            key = Convert.ToBase64String(SHA256.HashData(utf8.Span));
        }
        Records.Add(new PageRecord(utf8, cursor, key, eventTs));
        return null;
    }

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "list",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        _ => "null",
    };

    private static string Clip(string s) => s.Length > 60 ? s[..60] + "…" : s;
}
