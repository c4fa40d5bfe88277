using System.Text;
using Ingot.Config;

namespace Ingot.Sources.Files;

/// <summary>
/// How a CSV file is read (<c>csv: {delimiter, header, encoding}</c>). Checked when set, so an unusable value is a
/// <see cref="ConfigException"/> while the pipeline loads, never a surprise in the middle of a file.
/// </summary>
public sealed record CsvOptions
{
    private readonly char _delimiter = ',';
    private readonly string _encoding = "utf-8";

    /// <summary>Comma-separated, a header row, UTF-8.</summary>
    public static CsvOptions Default { get; } = new();

    /// <summary>
    /// The field delimiter (default <c>','</c>; <c>';'</c>, <c>'\t'</c>, <c>'|'</c>, …). An ASCII character that is not
    /// a letter, digit, quote, line break or NUL.
    /// </summary>
    public char Delimiter
    {
        get => _delimiter;
        init => _delimiter = CheckDelimiter(value);
    }

    /// <summary>
    /// True (the default): the first non-blank row names the fields. False: the fields are <c>col_1</c>, <c>col_2</c>, …
    /// and the first row is data.
    /// </summary>
    public bool Header { get; init; } = true;

    /// <summary>
    /// The text encoding: <c>utf-8</c> (the default; a byte order mark is skipped, a byte that is not UTF-8 is an error
    /// with its line), <c>latin1</c> (ISO-8859-1) or <c>windows-1252</c> (the five bytes it leaves undefined read as C1
    /// control characters, as Windows reads them). Other names are a <see cref="ConfigException"/>; the value reads back
    /// in the canonical spelling.
    /// </summary>
    public string Encoding
    {
        get => _encoding;
        init => _encoding = TextEncodings.Canonical(value);
    }

    /// <summary>The decoder for <see cref="Encoding"/> (UTF-8's throws on invalid bytes; the single-byte ones cannot fail).</summary>
    internal Encoding TextEncoding => TextEncodings.For(_encoding);

    private static char CheckDelimiter(char value)
    {
        if (value is '"' or '\r' or '\n' or '\0' || value >= 128 || char.IsLetterOrDigit(value))
        {
            var shown = value is '\r' or '\n' or '\0' or '\t' ? $"U+{(int)value:X4}" : $"'{value}'";
            throw new ConfigException($"csv delimiter {shown} is not supported: use an ASCII character that is not a letter, digit, quote or line break (',', ';', '|', a tab, …)");
        }
        return value;
    }
}

/// <summary>The encodings a CSV file may declare.</summary>
internal static class TextEncodings
{
    internal const string Utf8 = "utf-8";
    internal const string Latin1 = "latin1";
    internal const string Windows1252 = "windows-1252";

    private static readonly Encoding StrictUtf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: true, throwOnInvalidBytes: true);
    private static readonly Lazy<Encoding> Cp1252 = new(() => System.Text.CodePagesEncodingProvider.Instance.GetEncoding(1252)!);

    public static ReadOnlySpan<byte> Utf8ByteOrderMark => [0xEF, 0xBB, 0xBF];

    /// <summary>The bytes start with a UTF-16 byte order mark (either order; UTF-32 LE shares one).</summary>
    public static bool StartsUtf16(ReadOnlySpan<byte> bytes) => bytes.Length >= 2 && ((bytes[0] == 0xFF && bytes[1] == 0xFE) || (bytes[0] == 0xFE && bytes[1] == 0xFF));

    public static string Canonical(string? name)
    {
        switch (name?.Trim().ToUpperInvariant())
        {
            case "UTF-8" or "UTF8":
                return Utf8;
            case "LATIN1" or "LATIN-1" or "ISO-8859-1" or "ISO8859-1" or "ISO_8859-1":
                return Latin1;
            case "WINDOWS-1252" or "CP1252":
                return Windows1252;
            default:
                throw new ConfigException($"csv encoding '{name}' is not supported: use utf-8, latin1 (iso-8859-1) or windows-1252");
        }
    }

    public static Encoding For(string canonical) => canonical switch
    {
        Utf8 => StrictUtf8,
        Latin1 => System.Text.Encoding.Latin1,
        Windows1252 => Cp1252.Value,
        _ => throw new ArgumentOutOfRangeException(nameof(canonical), canonical, "not a canonical encoding name"),
    };

    /// <summary>
    /// Where the first byte that is not UTF-8 lies in <paramref name="bytes"/> (-1 if none), to place a decoding error on
    /// its line. Continuation bytes at the very start are passed over: the span may begin inside a character whose first
    /// bytes were handed out before.
    /// </summary>
    public static int IndexOfInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        var at = 0;
        while (at < bytes.Length && at < 3 && (bytes[at] & 0xC0) == 0x80) at++;
        while (at < bytes.Length)
        {
            if (System.Text.Rune.DecodeFromUtf8(bytes[at..], out _, out var consumed) != System.Buffers.OperationStatus.Done) return at;
            at += consumed;
        }
        return -1;
    }
}
