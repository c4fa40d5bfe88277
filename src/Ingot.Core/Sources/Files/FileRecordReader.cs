using System.Runtime.CompilerServices;
using Ingot.Records;

namespace Ingot.Sources.Files;

/// <summary>
/// Up to <c>batchRecords</c> records of one file, in file order.
/// </summary>
/// <param name="Records">UTF-8 JSON objects (<see cref="Record.FromUtf8"/>, no event time): fields in file order.</param>
/// <param name="Lines">The 1-based physical line where each record starts (same index as <paramref name="Records"/>).</param>
/// <param name="Raw">
/// The exact bytes of the file read since the previous batch (read-ahead included, so not aligned with the records):
/// every batch's <c>Raw</c> put end to end, in order, is the file byte for byte, byte order mark included.
/// </param>
public sealed record FileBatch(IReadOnlyList<Record> Records, IReadOnlyList<long> Lines, ReadOnlyMemory<byte> Raw);

/// <summary>
/// Reads one dropped file into batches of records for the <c>type: files</c> source (DESIGN §4.1), streaming: memory
/// holds one batch plus the readers' buffers (about 128 KiB, grown only while one larger record is read), never the file.
/// </summary>
public static class FileRecordReader
{
    /// <summary>
    /// The file's records in batches of at most <paramref name="batchRecords"/>. A batch is yielded only once the next
    /// record (or the end of the file) has been seen, so no batch but the last is short and the last carries the file's
    /// final bytes; a file with no records (empty, header only, <c>[]</c>) yields one batch of none, or nothing when it
    /// has no bytes. A file that does not parse throws <see cref="FileParseException"/> (<c>path:line: reason</c>) when
    /// the enumeration reaches the fault, after the batches before it: the caller fails the whole file's unit.
    /// <list type="bullet">
    /// <item><b>CSV</b> (<see cref="CsvOptions"/>): RFC 4180 quoting (delimiters, line breaks and doubled quotes inside
    /// quotes); every value is a JSON string as written, an empty field the empty string <c>""</c> — bronze never
    /// guesses types or nulls. The header row names the fields: an empty or repeated name is an error. Every row must
    /// have exactly as many fields as the header (or, without a header, the first row): a row with more or fewer is an
    /// error naming its line and both counts, because padding with nulls or dropping extra values would land a
    /// shifted or truncated row as if it were sound. Empty lines are skipped; a row starting with <c>#</c> is data.</item>
    /// <item><b>JSON</b>: one array whose elements are all objects (each a record; an element that is not an object is
    /// an error), or one object (one record). Anything after the root value is an error.</item>
    /// <item><b>NDJSON</b>: one object per line (<c>\n</c> or <c>\r\n</c>); lines of only whitespace are skipped; a line
    /// that is not exactly one JSON object is an error with its line.</item>
    /// </list>
    /// JSON records keep their tokens byte for byte (strings with their escapes, numbers as written) without the
    /// whitespace between them. JSON files must be UTF-8 (a byte order mark is skipped); lines there are counted by
    /// <c>\n</c>. A record over 256 MiB (CSV: 128 Mi characters) is an error. The stream is read to its end and not
    /// disposed.
    /// </summary>
    /// <param name="content">The file's bytes, read forward once.</param>
    /// <param name="format">How to read them (<see cref="FileFormatExtensions.FromExtension"/> gives the default).</param>
    /// <param name="csv">CSV settings; ignored for JSON and NDJSON.</param>
    /// <param name="displayPath">The file as messages name it.</param>
    /// <param name="batchRecords">The most records in one batch (at least 1).</param>
    /// <param name="cancellationToken">Stops the read between stream reads.</param>
    public static IAsyncEnumerable<FileBatch> ReadAsync(Stream content, FileFormat format, CsvOptions csv, string displayPath, int batchRecords, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(csv);
        ArgumentNullException.ThrowIfNull(displayPath);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchRecords, 1);
        if (!content.CanRead) throw new ArgumentException("the stream cannot be read", nameof(content));
        if (!Enum.IsDefined(format)) throw new ArgumentOutOfRangeException(nameof(format), format, "not a file format");
        return ReadCoreAsync(content, format, csv, displayPath, batchRecords, cancellationToken);
    }

    private static async IAsyncEnumerable<FileBatch> ReadCoreAsync(Stream content, FileFormat format, CsvOptions csv, string path, int batchRecords, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var input = new CaptureStream(content);
        var batch = new BatchBuilder(batchRecords);
        var full = format switch
        {
            FileFormat.Csv => CsvRecordParser.ReadAsync(input, csv, path, batch, cancellationToken),
            FileFormat.Json => JsonRecordParser.ReadDocumentAsync(input, path, batch, cancellationToken),
            _ => JsonRecordParser.ReadLinesAsync(input, path, batch, cancellationToken),
        };
        await foreach (var filled in full.ConfigureAwait(false)) yield return filled;

        await input.DrainAsync(cancellationToken).ConfigureAwait(false);
        if (batch.Count > 0 || !input.Pending.IsEmpty) yield return batch.Build(input.Take());
    }
}
