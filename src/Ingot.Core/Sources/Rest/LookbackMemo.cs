using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Ingot.Sources.Rest;

/// <summary>
/// The record versions (primary key + cursor value) landed inside a stream's look-back window, kept with the checkpoint
/// so that a re-read of the window lands nothing twice (invariant 8). Only versions whose cursor is at or after
/// <c>checkpoint − lookback</c> are kept — exactly the ones the next run can read again — so the memo is bounded by the
/// window, not by the stream. Each version is kept as a 96-bit hash (16 base64 characters), grouped by cursor value.
/// </summary>
internal sealed class LookbackMemo
{
    private readonly SortedDictionary<DateTimeOffset, HashSet<string>> _byCursor = [];

    private int _count;

    public int Count => _count;

    /// <summary>The memo as kept with the checkpoint: <c>{"v":1,"versions":{"2024-01-15T10:30:00Z":["…"]}}</c>.</summary>
    public string ToJson()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("v", 1);
            w.WriteStartObject("versions");
            foreach (var (cursor, keys) in _byCursor)
            {
                w.WriteStartArray(CursorTime.Format(cursor));
                foreach (var k in keys.Order(StringComparer.Ordinal)) w.WriteStringValue(k);
                w.WriteEndArray();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Reads a stored memo; null or another source's memo gives an empty one (nothing known inside the window).</summary>
    public static LookbackMemo Parse(string? json)
    {
        var memo = new LookbackMemo();
        if (string.IsNullOrEmpty(json)) return memo;
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (!doc.RootElement.TryGetProperty("versions", out var versions) || versions.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException("the stream's checkpoint memo has no versions");
            foreach (var group in versions.EnumerateObject())
            {
                if (!CursorTime.TryParse(group.Name, out var cursor)) throw new InvalidDataException($"the stream's checkpoint memo holds an unreadable cursor '{group.Name}'");
                foreach (var k in group.Value.EnumerateArray()) memo.AddHashed(cursor, k.GetString() ?? "");
            }
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"the stream's checkpoint memo is not readable ({e.Message})", e);
        }
        return memo;
    }

    /// <summary>True when this version (key at this cursor value) was landed before.</summary>
    public bool Contains(DateTimeOffset cursor, string key) => _byCursor.TryGetValue(cursor, out var keys) && keys.Contains(Hash(cursor, key));

    /// <summary>Adds a version; false when it was there already.</summary>
    public bool Add(DateTimeOffset cursor, string key) => AddHashed(cursor, Hash(cursor, key));

    private bool AddHashed(DateTimeOffset cursor, string hash)
    {
        if (!_byCursor.TryGetValue(cursor, out var keys)) _byCursor[cursor] = keys = new HashSet<string>(StringComparer.Ordinal);
        if (!keys.Add(hash)) return false;
        _count++;
        return true;
    }

    /// <summary>Lets go of the versions before <paramref name="from"/>.</summary>
    public void RemoveBefore(DateTimeOffset from)
    {
        while (_byCursor.Count > 0 && _byCursor.First() is var (cursor, keys) && cursor < from)
        {
            _byCursor.Remove(cursor);
            _count -= keys.Count;
        }
    }

    /// <summary>A copy holding only the versions at or after <paramref name="from"/>.</summary>
    public LookbackMemo From(DateTimeOffset from)
    {
        var copy = new LookbackMemo();
        foreach (var (cursor, keys) in _byCursor)
        {
            if (cursor < from) continue;
            copy._byCursor[cursor] = new HashSet<string>(keys, StringComparer.Ordinal);
            copy._count += keys.Count;
        }
        return copy;
    }

    private static string Hash(DateTimeOffset cursor, string key)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"{CursorTime.Format(cursor)}\u001e{key}"), hash);
        return Convert.ToBase64String(hash[..12]);
    }
}
