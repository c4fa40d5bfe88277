using Ingot.Sources.Files;

namespace Ingot.Tests.Core.Sources.Files;

public sealed class FileFormatTests
{
    [Theory]
    [InlineData("drop/a.csv", FileFormat.Csv)]
    [InlineData("s3://bucket/in/A.TSV", FileFormat.Csv)]
    [InlineData("x.json", FileFormat.Json)]
    [InlineData("x.ndjson", FileFormat.Ndjson)]
    [InlineData("x.JSONL", FileFormat.Ndjson)]
    [InlineData("x.csv.gz", null)]
    [InlineData("README", null)]
    public void FromExtension_FileName_GivesItsFormat(string path, FileFormat? expected)
    {
        // When
        var format = FileFormat.FromExtension(path);

        // Then
        format.ShouldBe(expected);
    }
}
