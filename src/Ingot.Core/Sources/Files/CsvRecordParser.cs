using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Sylvan.Data.Csv;

namespace Ingot.Sources.Files;

/// <summary>
/// CSV read with Sylvan: every value a JSON string, named by the header (or <c>col_1</c>, …). Sylvan numbers rows,
/// not lines, so the line where a record starts is counted here from each row's raw text (a quoted field with line
/// breaks moves the next record down).
/// </summary>
internal static class CsvRecordParser
{
    private const int BufferChars = 64 * 1024;
    // A record must fit in Sylvan's buffer; the bound stops an unclosed quote from buffering the rest of the file.
    internal const int MaxRecordChars = 128 * 1024 * 1024;

    public static async IAsyncEnumerable<FileBatch> ReadAsync(CaptureStream input, CsvOptions csv, string path, BatchBuilder batch, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var rows = new Rows(input, csv, path);
        using var text = new StreamReader(input, csv.TextEncoding, detectEncodingFromByteOrderMarks: false, bufferSize: BufferChars, leaveOpen: true);
        var reader = await rows.OpenAsync(text, cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            JsonEncodedText[]? names = null;
            var namesLine = 0L;
            while (await rows.NextAsync(reader, cancellationToken).ConfigureAwait(false))
            {
                var line = rows.Line;
                if (names is null)
                {
                    names = csv.Header ? HeaderNames(reader, path, line) : GeneratedNames(reader.RowFieldCount);
                    namesLine = line;
                    if (csv.Header) continue;
                }
                if (reader.RowFieldCount != names.Length)
                {
                    var expected = csv.Header ? $"as in the header on line {namesLine}" : $"as in the first row, line {namesLine}";
                    throw new FileParseException(path, line, $"expected {names.Length} fields ({expected}), found {reader.RowFieldCount}");
                }

                if (batch.IsFull) yield return batch.Build(rows.Take());
                var writer = batch.StartRecord(line);
                writer.WriteStartObject();
                for (var i = 0; i < names.Length; i++) writer.WriteString(names[i], reader.GetFieldSpan(i));
                writer.WriteEndObject();
                batch.EndRecord();
            }
        }
    }

    private static JsonEncodedText[] HeaderNames(CsvDataReader reader, string path, long line)
    {
        var names = new JsonEncodedText[reader.RowFieldCount];
        var seen = new Dictionary<string, int>(names.Length, StringComparer.Ordinal);
        for (var i = 0; i < names.Length; i++)
        {
            var name = reader.GetString(i);
            // Decoding skips a UTF-8 byte order mark; this catches one that was encoded twice.
            if (i == 0) name = name.TrimStart('\uFEFF');
            if (string.IsNullOrWhiteSpace(name)) throw new FileParseException(path, line, $"the header has no name for column {i + 1}");
            if (!seen.TryAdd(name, i + 1)) throw new FileParseException(path, line, $"the header names '{name}' twice (columns {seen[name]} and {i + 1})");
            names[i] = JsonEncodedText.Encode(name, JavaScriptEncoder.UnsafeRelaxedJsonEscaping);
        }
        return names;
    }

    private static JsonEncodedText[] GeneratedNames(int count)
    {
        var names = new JsonEncodedText[count];
        for (var i = 0; i < count; i++) names[i] = JsonEncodedText.Encode($"col_{i + 1}");
        return names;
    }

    /// <summary>
    /// Sylvan's rows with their physical lines, blank lines skipped, and Sylvan's and the decoder's errors turned
    /// into <see cref="FileParseException"/>s on the line they concern.
    /// </summary>
    private sealed class Rows(CaptureStream input, CsvOptions csv, string path)
    {
        private long _next = 1;
        private long _takenLineBreaks;
        private bool _takenEndsWithCr;

        /// <summary>The 1-based line where the current row starts.</summary>
        public long Line { get; private set; }

        public async Task<CsvDataReader> OpenAsync(TextReader text, CancellationToken cancellationToken)
        {
            var options = new CsvDataReaderOptions
            {
                // The header is read as a row here, so its line, blank lines and duplicate names are ours to judge.
                HasHeaders = false,
                Delimiter = csv.Delimiter,
                Quote = '"',
                Escape = '"',
                CsvStyle = CsvStyle.Standard,
                // Sylvan drops rows starting with '#' by default: bronze keeps them. NUL is the one first character left
                // to mean a comment, and such a row fails instead of vanishing.
                Comment = '\0',
                CommentHandler = (Action<string>)(_ => throw new FileParseException(path, _next, "a row starts with a NUL character (is this a binary file?)")),
                BufferSize = BufferChars,
                MaxBufferSize = MaxRecordChars,
                OwnsReader = false,
            };
            CsvDataReader reader;
            try
            {
                reader = await CsvDataReader.CreateAsync(text, options, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (Translate(e) is { } parse)
            {
                throw parse;
            }
            // Bytes that are plainly UTF-8 read as Latin-1 would land as mojibake without a word.
            if (csv.Encoding != TextEncodings.Utf8 && input.Prefix.StartsWith(TextEncodings.Utf8ByteOrderMark))
                throw new FileParseException(path, 1, $"the file starts with a UTF-8 byte order mark but csv encoding is {csv.Encoding}: set csv encoding: utf-8");
            return reader;
        }

        public async ValueTask<bool> NextAsync(CsvDataReader reader, CancellationToken cancellationToken)
        {
            while (true)
            {
                try
                {
                    if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) return false;
                }
                catch (Exception e) when (Translate(e) is { } parse)
                {
                    throw parse;
                }
                var raw = reader.GetRawRecordSpan();
                Line = _next;
                _next += LineBreaks(raw);
                // An empty line is one empty field to Sylvan; a quoted empty value ("") is not blank.
                if (reader.RowFieldCount == 1 && raw.TrimEnd("\r\n").IsEmpty) continue;
                return true;
            }
        }

        /// <summary>The captured bytes for a batch; their line breaks are counted to place a decoding error later.</summary>
        public byte[] Take()
        {
            var taken = input.Take();
            if (taken.Length == 0) return taken;
            _takenLineBreaks += LineBreaks(taken) - (_takenEndsWithCr && taken[0] == (byte)'\n' ? 1 : 0);
            _takenEndsWithCr = taken[^1] == (byte)'\r';
            return taken;
        }

        private FileParseException? Translate(Exception e) => e switch
        {
            CsvRecordTooLargeException => new FileParseException(path, _next, $"a record is larger than {MaxRecordChars / (1024 * 1024)} Mi characters (an unclosed quote?)"),
            // Sylvan's messages are plain sentences ("A quoted field at the end of the input ends without a closing quote.").
            CsvFormatException => new FileParseException(path, _next, e.Message),
            DecoderFallbackException => EncodingError(),
            _ => null,
        };

        private FileParseException EncodingError()
        {
            if (TextEncodings.StartsUtf16(input.Prefix))
                return new FileParseException(path, 1, "the file is UTF-16 encoded, which is not supported: save it as UTF-8");

            // The decoder failed on bytes just read, so they are among those not yet handed out with a batch.
            var pending = input.Pending;
            var at = TextEncodings.IndexOfInvalidUtf8(pending);
            var before = pending[..Math.Max(at, 0)];
            var line = 1 + _takenLineBreaks + LineBreaks(before) - (_takenEndsWithCr && before.StartsWith("\n"u8) ? 1 : 0);
            var shown = at >= 0 ? $" (byte 0x{pending[at]:X2})" : "";
            return new FileParseException(path, line, $"the text is not valid UTF-8{shown}: if the file has another encoding, set csv encoding (latin1, windows-1252)");
        }
    }

    /// <summary>Line breaks as Sylvan ends records: <c>\r\n</c>, <c>\n</c> or a lone <c>\r</c>.</summary>
    internal static long LineBreaks(ReadOnlySpan<char> text) => text.Count('\n') + text.Count('\r') - text.Count("\r\n");

    internal static long LineBreaks(ReadOnlySpan<byte> text) => text.Count((byte)'\n') + text.Count((byte)'\r') - text.Count("\r\n"u8);
}
