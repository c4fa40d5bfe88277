using System.Text.Json;

namespace Ingot.Postgres.Source;

/// <summary>
/// A place in a stream's keyset order, as the text kept in <see cref="Sources.CursorBounds"/> and in the checkpoint.
/// Two forms, both carrying the fence of the plan that made them (which makes the text sortable by plan and names the
/// plan a unit belongs to):
/// <list type="bullet">
/// <item><c>2024-01-15T10:30:00.000000Z</c> — a fence: every row whose cursor is below it is before this place (cursor
/// streams); the end of one full read (streams without a cursor, the fence then is the read's start time).</item>
/// <item><c>2024-01-15T10:30:00.000000Z ["2024-01-15T09:00:00.000000Z","42"]</c> — a key: every row whose
/// <c>(cursor, primary key)</c> is at most these values (as text, the cursor canonical) is before this place.</item>
/// </list>
/// </summary>
internal sealed record KeysetPosition(string Fence, IReadOnlyList<string>? Key)
{
    public bool IsFence => Key is null;

    public static KeysetPosition? Parse(string? text)
    {
        if (string.IsNullOrEmpty(text)) return null;
        var space = text.IndexOf(' ', StringComparison.Ordinal);
        if (space < 0) return new KeysetPosition(text, null);
        var key = JsonSerializer.Deserialize<string[]>(text[(space + 1)..]) ?? throw new FormatException($"not a keyset position: {text}");
        return new KeysetPosition(text[..space], key);
    }

    public override string ToString() => Key is null ? Fence : $"{Fence} {JsonSerializer.Serialize(Key)}";

    /// <summary>A short, file-name-safe stamp of where this place is: the key's cursor value, or the fence.</summary>
    public string Stamp(bool hasCursor)
    {
        var text = Key is { Count: > 0 } k && hasCursor ? k[0] : Fence;
        return Ingot.Sources.ChunkKeys.Safe(text.Replace("-", "", StringComparison.Ordinal).Replace(":", "", StringComparison.Ordinal));
    }
}
