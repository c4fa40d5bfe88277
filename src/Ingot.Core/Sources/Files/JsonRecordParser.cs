using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Ingot.Sources.Files;

/// <summary>
/// JSON and NDJSON files read with <see cref="Utf8JsonReader"/> over a <see cref="ByteWindow"/>: each record is the
/// validated text of one object, minified (its tokens kept byte for byte), never the whole file in memory.
/// </summary>
internal static class JsonRecordParser
{
    // One record must fit in memory: a bound keeps a broken file (an unclosed string) from taking all of it.
    internal const int MaxRecordBytes = 256 * 1024 * 1024;

    /// <summary>One JSON array of objects, streamed element by element, or one JSON object (one record).</summary>
    public static async IAsyncEnumerable<FileBatch> ReadDocumentAsync(CaptureStream input, string path, BatchBuilder batch, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var window = new ByteWindow(input, path, MaxRecordBytes);
        await window.FillAsync(cancellationToken).ConfigureAwait(false);
        SkipByteOrderMark(window, path);
        var document = new DocumentParser(path);
        while (true)
        {
            var step = document.Next(window, out var start, out var end, out var line);
            if (step == Step.NeedMore)
            {
                await window.FillAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }
            if (step == Step.End) yield break;

            if (batch.IsFull) yield return batch.Build(input.Take());
            batch.AddJson(window.Data[start..end], line);
            window.Advance(end);
        }
    }

    /// <summary>One object per line; lines of only whitespace are skipped.</summary>
    public static async IAsyncEnumerable<FileBatch> ReadLinesAsync(CaptureStream input, string path, BatchBuilder batch, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var window = new ByteWindow(input, path, MaxRecordBytes);
        await window.FillAsync(cancellationToken).ConfigureAwait(false);
        SkipByteOrderMark(window, path);
        var line = 1L;
        var searched = 0;
        while (true)
        {
            var newline = window.Data[searched..].IndexOf((byte)'\n');
            if (newline < 0 && !window.Eof)
            {
                searched = window.Data.Length;
                await window.FillAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }
            if (newline < 0 && window.Data.IsEmpty) yield break;

            var length = newline < 0 ? window.Data.Length : searched + newline;
            var next = newline < 0 ? length : length + 1;
            if (length > 0 && window.Data[length - 1] == (byte)'\r') length--;
            if (!IsBlank(window.Data[..length]))
            {
                CheckObject(window.Data[..length], path, line);
                if (batch.IsFull) yield return batch.Build(input.Take());
                batch.AddJson(window.Data[..length], line);
            }
            window.Advance(next);
            line++;
            searched = 0;
        }
    }

    private static void SkipByteOrderMark(ByteWindow window, string path)
    {
        var data = window.Data;
        if (TextEncodings.StartsUtf16(data))
            throw new FileParseException(path, 1, "the file is UTF-16 encoded: JSON files must be UTF-8");
        if (data.StartsWith(TextEncodings.Utf8ByteOrderMark)) window.Advance(3);
    }

    private static bool IsBlank(ReadOnlySpan<byte> line) => line.IndexOfAnyExcept(" \t\r"u8) < 0;

    /// <summary>
    /// The reader checks JSON's grammar, not the bytes inside strings: a Latin-1 <c>é</c> would land as a broken record.
    /// </summary>
    private static void CheckUtf8(ReadOnlySpan<byte> json, string path, long line)
    {
        if (System.Text.Unicode.Utf8.IsValid(json)) return;
        var at = TextEncodings.IndexOfInvalidUtf8(json);
        throw new FileParseException(path, line + json[..Math.Max(at, 0)].Count((byte)'\n'),
            $"the text is not valid UTF-8 (byte 0x{json[Math.Max(at, 0)]:X2}): JSON files must be UTF-8");
    }

    private static void CheckObject(ReadOnlySpan<byte> json, string path, long line)
    {
        CheckUtf8(json, path, line);
        try
        {
            var reader = new Utf8JsonReader(json);
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartObject)
                throw new FileParseException(path, line, $"the line is not a JSON object (found {JsonText.Describe(reader.TokenType)})");
            reader.Skip();
            // Anything after the object but whitespace makes the reader throw here.
            reader.Read();
        }
        catch (JsonException e)
        {
            throw new FileParseException(path, line, JsonText.Reason(e));
        }
    }

    private enum Step
    {
        NeedMore,
        Record,
        End,
    }

    private enum Phase
    {
        BeforeRoot,
        InArray,
        AfterRoot,
    }

    /// <summary>
    /// The state of one JSON document between windows. <see cref="JsonReaderState"/> carries the reader's position
    /// (its line numbers included) across refills; a record that does not fit yet is read again from its start.
    /// </summary>
    private sealed class DocumentParser(string path)
    {
        private JsonReaderState _state;
        private Phase _phase;
        private long _elements;

        /// <summary>
        /// Consumes up to the next record and returns its bytes as <c>Data[start..end]</c>; the caller copies them and
        /// advances the window by <paramref name="end"/>.
        /// </summary>
        public Step Next(ByteWindow window, out int start, out int end, out long line)
        {
            start = end = 0;
            line = 0;
            var data = window.Data;
            // The reader's own word for this speaks of its API ("isFinalBlock"): say it plainly.
            if (_phase == Phase.BeforeRoot && window.Eof && data.IndexOfAnyExcept(" \t\r\n"u8) < 0)
                throw new FileParseException(path, window.LineAt(data.Length), "the file holds no JSON: expected an array of objects or one object");
            var reader = new Utf8JsonReader(data, window.Eof, _state);
            try
            {
                while (true)
                {
                    var before = (int)reader.BytesConsumed;
                    var beforeState = reader.CurrentState;
                    if (!reader.Read())
                    {
                        // With the whole rest of the file in view, a document that is still open has already thrown.
                        _state = reader.CurrentState;
                        window.Advance((int)reader.BytesConsumed);
                        return window.Eof ? Step.End : Step.NeedMore;
                    }

                    switch (_phase, reader.TokenType)
                    {
                        case (Phase.BeforeRoot, JsonTokenType.StartArray):
                            _phase = Phase.InArray;
                            continue;
                        case (Phase.InArray, JsonTokenType.EndArray):
                            _phase = Phase.AfterRoot;
                            continue;
                        case (Phase.BeforeRoot or Phase.InArray, JsonTokenType.StartObject):
                            start = (int)reader.TokenStartIndex;
                            if (!reader.TrySkip())
                            {
                                // Not all of it is here: read it again, from before its first brace, once there is more.
                                _state = beforeState;
                                window.Advance(before);
                                return Step.NeedMore;
                            }
                            end = (int)reader.BytesConsumed;
                            line = window.LineAt(start);
                            CheckUtf8(data[start..end], path, line);
                            _state = reader.CurrentState;
                            if (_phase == Phase.BeforeRoot) _phase = Phase.AfterRoot;
                            _elements++;
                            return Step.Record;
                        case (Phase.BeforeRoot, var token):
                            throw new FileParseException(path, window.LineAt((int)reader.TokenStartIndex),
                                $"expected a JSON array of objects or one object, found {JsonText.Describe(token)}");
                        case (Phase.InArray, var token):
                            throw new FileParseException(path, window.LineAt((int)reader.TokenStartIndex),
                                $"element {_elements + 1} of the array is not an object (found {JsonText.Describe(token)})");
                        default:
                            // The reader itself refuses a second value after the root.
                            throw new InvalidOperationException($"unexpected {reader.TokenType} after the root value");
                    }
                }
            }
            catch (JsonException e)
            {
                throw new FileParseException(path, (e.LineNumber ?? 0) + 1, JsonText.Reason(e));
            }
        }
    }
}
