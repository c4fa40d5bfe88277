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
    // Versions read back from the stored memo (cursor ticks → hashes), and versions landed in this run (kept as they
    // are: hashing happens only for a record whose cursor value the stored memo holds, and when the memo is written).
    private readonly Dictionary<long, HashSet<string>> _stored = [];
    private readonly HashSet<(long Ticks, string Key)> _run = [];
    private int _storedCount;

    public int Count => _storedCount + _run.Count;

    /// <summary>The memo as kept with the checkpoint: <c>{"v":1,"versions":{"2024-01-15T10:30:00Z":["…"]}}</c>, cursors in order.</summary>
    public string ToJson()
    {
        var all = new SortedDictionary<long, SortedSet<string>>();
        foreach (var (ticks, hashes) in _stored) Group(all, ticks).UnionWith(hashes);
        foreach (var (ticks, key) in _run) Group(all, ticks).Add(Hash(ticks, key));
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("v", 1);
            w.WriteStartObject("versions");
            foreach (var (ticks, hashes) in all)
            {
                w.WriteStartArray(CursorTime.Format(new DateTimeOffset(ticks, TimeSpan.Zero)));
                foreach (var h in hashes) w.WriteStringValue(h);
                w.WriteEndArray();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static SortedSet<string> Group(SortedDictionary<long, SortedSet<string>> all, long ticks)
    {
        if (!all.TryGetValue(ticks, out var set)) all[ticks] = set = new SortedSet<string>(StringComparer.Ordinal);
        return set;
    }

    /// <summary>Reads a stored memo; null gives an empty one (nothing known inside the window).</summary>
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
                foreach (var k in group.Value.EnumerateArray()) memo.AddStored(cursor.UtcTicks, k.GetString() ?? "");
            }
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"the stream's checkpoint memo is not readable ({e.Message})", e);
        }
        return memo;
    }

    /// <summary>True when this version (key at this cursor value) was landed before.</summary>
    public bool Contains(DateTimeOffset cursor, string key) => Known(cursor.UtcTicks, key) || _run.Contains((cursor.UtcTicks, key));

    private bool Known(long ticks, string key) => _stored.TryGetValue(ticks, out var hashes) && hashes.Contains(Hash(ticks, key));

    /// <summary>Adds a version; false when it was there already.</summary>
    public bool Add(DateTimeOffset cursor, string key) => !Known(cursor.UtcTicks, key) && _run.Add((cursor.UtcTicks, key));

    private void AddStored(long ticks, string hash)
    {
        if (!_stored.TryGetValue(ticks, out var hashes)) _stored[ticks] = hashes = new HashSet<string>(StringComparer.Ordinal);
        if (hashes.Add(hash)) _storedCount++;
    }

    /// <summary>Lets go of the versions before <paramref name="from"/>.</summary>
    public void RemoveBefore(DateTimeOffset from)
    {
        var limit = from.UtcTicks;
        _run.RemoveWhere(v => v.Ticks < limit);
        foreach (var ticks in _stored.Keys.Where(t => t < limit).ToList())
        {
            _storedCount -= _stored[ticks].Count;
            _stored.Remove(ticks);
        }
    }

    /// <summary>A copy holding only the versions at or after <paramref name="from"/>.</summary>
    public LookbackMemo From(DateTimeOffset from)
    {
        var copy = new LookbackMemo();
        var limit = from.UtcTicks;
        foreach (var (ticks, hashes) in _stored)
        {
            if (ticks < limit) continue;
            copy._stored[ticks] = new HashSet<string>(hashes, StringComparer.Ordinal);
            copy._storedCount += hashes.Count;
        }
        foreach (var v in _run)
        {
            if (v.Ticks >= limit) copy._run.Add(v);
        }
        return copy;
    }

    /// <summary>SHA-256 of the cursor's UTC ticks and the key's UTF-8, first 96 bits, base64.</summary>
    private static string Hash(long ticks, string key)
    {
        var length = 8 + Encoding.UTF8.GetMaxByteCount(key.Length);
        var rented = length <= 512 ? null : System.Buffers.ArrayPool<byte>.Shared.Rent(length);
        Span<byte> input = rented ?? stackalloc byte[512];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(input, ticks);
        var written = 8 + Encoding.UTF8.GetBytes(key, input[8..]);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(input[..written], hash);
        if (rented is not null) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        return Convert.ToBase64String(hash[..12]);
    }
}
