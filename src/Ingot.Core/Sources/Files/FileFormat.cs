namespace Ingot.Sources.Files;

/// <summary>How a dropped file's bytes are read into records (DESIGN §4.1, <c>type: files</c>).</summary>
public enum FileFormat
{
    /// <summary>Delimited text: one record per row, every value a string (see <see cref="CsvOptions"/>).</summary>
    Csv,

    /// <summary>One JSON array of objects (each element a record) or one JSON object (one record).</summary>
    Json,

    /// <summary>Newline-delimited JSON: one object per non-empty line.</summary>
    Ndjson,
}

public static class FileFormatExtensions
{
    extension(FileFormat)
    {
        /// <summary>
        /// The format a file name implies (case-insensitive): <c>.csv</c> and <c>.tsv</c> are <see cref="FileFormat.Csv"/>,
        /// <c>.json</c> is <see cref="FileFormat.Json"/>, <c>.ndjson</c> and <c>.jsonl</c> are <see cref="FileFormat.Ndjson"/>;
        /// anything else (including compressed names such as <c>.csv.gz</c>) is null. A <c>.tsv</c> file needs
        /// <see cref="CsvOptions.Delimiter"/> <c>'\t'</c>: the format alone does not say the delimiter.
        /// </summary>
        public static FileFormat? FromExtension(string path)
        {
            ArgumentNullException.ThrowIfNull(path);
            var extension = Path.GetExtension(path.AsSpan());
            if (extension.Equals(".csv", StringComparison.OrdinalIgnoreCase) || extension.Equals(".tsv", StringComparison.OrdinalIgnoreCase)) return FileFormat.Csv;
            if (extension.Equals(".json", StringComparison.OrdinalIgnoreCase)) return FileFormat.Json;
            if (extension.Equals(".ndjson", StringComparison.OrdinalIgnoreCase) || extension.Equals(".jsonl", StringComparison.OrdinalIgnoreCase)) return FileFormat.Ndjson;
            return null;
        }
    }
}
