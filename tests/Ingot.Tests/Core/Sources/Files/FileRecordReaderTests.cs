using System.Text;
using Ingot.Sources.Files;

namespace Ingot.Tests.Core.Sources.Files;

public sealed class FileRecordReaderTests
{
    private static readonly byte[] Bom = [0xEF, 0xBB, 0xBF];

    // CSV

    [Fact]
    public async Task ReadAsync_CsvWithBom_StripsTheBomFromTheFirstName()
    {
        // Given
        byte[] file = [.. Bom, .. "id,name\n1,Ann\n"u8];

        // When
        var batches = await ReadAllAsync(file, FileFormat.Csv);

        // Then
        Texts(batches).ShouldBe(["""{"id":"1","name":"Ann"}"""]);
        Concat(batches).ShouldBe(file);
    }

    [Fact]
    public async Task ReadAsync_CsvQuotedNewlinesDelimitersAndDoubledQuotes_KeepsValuesExactly()
    {
        // Given
        var file = "a,b,c\n\"two\nlines\",\"x, y\",\"say \"\"hi\"\"\"\n"u8.ToArray();

        // When
        var batches = await ReadAllAsync(file, FileFormat.Csv);

        // Then
        var fields = batches.Single().Records.Single().Fields;
        fields["a"]!.GetValue<string>().ShouldBe("two\nlines");
        fields["b"]!.GetValue<string>().ShouldBe("x, y");
        fields["c"]!.GetValue<string>().ShouldBe("say \"hi\"");
    }

    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    [InlineData("\r")]
    public async Task ReadAsync_CsvAfterAMultiLineQuotedField_GivesPhysicalStartLines(string eol)
    {
        // Given: line 1 header, a record on lines 2-4, one on 5, a blank line 6, one on 7
        var text = string.Join(eol, "id,note", "1,\"first" + eol + "second" + eol + "third\"", "2,plain", "", "3,\"last\"") + eol;
        var file = Encoding.UTF8.GetBytes(text);

        // When
        var batches = await ReadAllAsync(file, FileFormat.Csv);

        // Then
        batches.SelectMany(b => b.Lines).ShouldBe([2L, 5L, 7L]);
        Texts(batches)[0].ShouldBe("{\"id\":\"1\",\"note\":\"first" + eol.Replace("\r", "\\r").Replace("\n", "\\n") + "second" + eol.Replace("\r", "\\r").Replace("\n", "\\n") + "third\"}");
    }

    [Fact]
    public async Task ReadAsync_SemicolonDelimiter_SplitsOnSemicolonsOnly()
    {
        // Given
        var file = "name;amount\nAnn;1,50\n"u8.ToArray();

        // When
        var batches = await ReadAllAsync(file, FileFormat.Csv, new CsvOptions { Delimiter = ';' });

        // Then
        Texts(batches).ShouldBe(["""{"name":"Ann","amount":"1,50"}"""]);
    }

    [Fact]
    public async Task ReadAsync_TabDelimiter_ReadsTsv()
    {
        // Given
        var file = "a\tb\n1\t2\n"u8.ToArray();

        // When
        var batches = await ReadAllAsync(file, FileFormat.Csv, new CsvOptions { Delimiter = '\t' });

        // Then
        Texts(batches).ShouldBe(["""{"a":"1","b":"2"}"""]);
    }

    [Fact]
    public async Task ReadAsync_NoHeader_NamesFieldsColNAndReadsTheFirstRowAsData()
    {
        // Given
        var file = "x,y,z\n1,2,3\n"u8.ToArray();

        // When
        var batches = await ReadAllAsync(file, FileFormat.Csv, new CsvOptions { Header = false });

        // Then
        Texts(batches).ShouldBe(["""{"col_1":"x","col_2":"y","col_3":"z"}""", """{"col_1":"1","col_2":"2","col_3":"3"}"""]);
        batches.SelectMany(b => b.Lines).ShouldBe([1L, 2L]);
    }

    [Fact]
    public async Task ReadAsync_Latin1_DecodesEveryByte()
    {
        // Given: "café" and "Zürich" in ISO-8859-1
        byte[] file = [.. "city\ncaf"u8, 0xE9, .. "\nZ"u8, 0xFC, .. "rich\n"u8];

        // When
        var batches = await ReadAllAsync(file, FileFormat.Csv, new CsvOptions { Encoding = "ISO-8859-1" });

        // Then
        Texts(batches).ShouldBe(["""{"city":"café"}""", """{"city":"Zürich"}"""]);
        Concat(batches).ShouldBe(file);
    }

    [Fact]
    public async Task ReadAsync_Windows1252_DecodesTheEuroSign()
    {
        // Given: 0x80 is € in windows-1252 (a control character in Latin-1)
        byte[] file = [.. "price\n5 "u8, 0x80, .. "\n"u8];

        // When
        var batches = await ReadAllAsync(file, FileFormat.Csv, new CsvOptions { Encoding = "cp1252" });

        // Then
        Texts(batches).ShouldBe(["""{"price":"5 €"}"""]);
    }

    [Fact]
    public async Task ReadAsync_EmptyAndTypedLookingValues_StayStrings()
    {
        // Given
        var file = "a,b,c,d,e\n,\"\",007,true,null\n"u8.ToArray();

        // When
        var batches = await ReadAllAsync(file, FileFormat.Csv);

        // Then
        Texts(batches).ShouldBe(["""{"a":"","b":"","c":"007","d":"true","e":"null"}"""]);
    }

    [Fact]
    public async Task ReadAsync_RowStartingWithHash_IsData()
    {
        // Given
        var file = "tag,n\n#hashtag,1\n"u8.ToArray();

        // When
        var batches = await ReadAllAsync(file, FileFormat.Csv);

        // Then
        Texts(batches).ShouldBe(["""{"tag":"#hashtag","n":"1"}"""]);
    }

    [Theory]
    [InlineData("a,b\n1,2\n\"x\ny\",2,3\n", 3, "expected 2 fields (as in the header on line 1), found 3")]
    [InlineData("a,b\n1,2\n3\n", 3, "expected 2 fields (as in the header on line 1), found 1")]
    [InlineData("a,b\n1,2\n3,4,\n", 3, "expected 2 fields (as in the header on line 1), found 3")]
    public async Task ReadAsync_RowWithAnotherFieldCount_ThrowsNamingLineAndCounts(string text, long line, string reason)
    {
        // Given
        var file = Encoding.UTF8.GetBytes(text);

        // When
        var error = await Should.ThrowAsync<FileParseException>(() => ReadAllAsync(file, FileFormat.Csv, path: "drop/data.csv"));

        // Then
        error.Line.ShouldBe(line);
        error.Reason.ShouldBe(reason);
        error.Message.ShouldBe($"drop/data.csv:{line}: {reason}");
    }

    [Fact]
    public async Task ReadAsync_NoHeaderRowWithAnotherFieldCount_ComparesWithTheFirstRow()
    {
        // Given
        var file = "\n1,2\n3,4,5\n"u8.ToArray();

        // When
        var error = await Should.ThrowAsync<FileParseException>(() => ReadAllAsync(file, FileFormat.Csv, new CsvOptions { Header = false }));

        // Then
        error.Message.ShouldBe("data:3: expected 2 fields (as in the first row, line 2), found 3");
    }

    [Theory]
    [InlineData("id,name,id\n1,2,3\n", "the header names 'id' twice (columns 1 and 3)")]
    [InlineData("id,,name\n1,2,3\n", "the header has no name for column 2")]
    [InlineData("id,name,\n1,2,3\n", "the header has no name for column 3")]
    public async Task ReadAsync_BadHeader_ThrowsWithItsLine(string text, string reason)
    {
        // Given: two blank lines before the header
        var file = Encoding.UTF8.GetBytes("\n\n" + text);

        // When
        var error = await Should.ThrowAsync<FileParseException>(() => ReadAllAsync(file, FileFormat.Csv));

        // Then
        error.Line.ShouldBe(3);
        error.Reason.ShouldBe(reason);
    }

    [Fact]
    public async Task ReadAsync_UnclosedQuote_ThrowsAtTheLineWhereTheRecordStarts()
    {
        // Given
        var file = "a,b\n1,2\n3,\"open\n4,5\n"u8.ToArray();

        // When
        var error = await Should.ThrowAsync<FileParseException>(() => ReadAllAsync(file, FileFormat.Csv));

        // Then
        error.Line.ShouldBe(3);
        error.Reason.ShouldContain("closing quote");
    }

    [Fact]
    public async Task ReadAsync_InvalidUtf8ManyBatchesIn_ThrowsWithTheLineOfTheByte()
    {
        // Given: 5,000 rows read 100 at a time, in small reads; row 4,000 (line 4,001) holds a Latin-1 é
        var file = new MemoryStream();
        file.Write("id,city\n"u8);
        for (var i = 1; i <= 5000; i++)
        {
            file.Write(Encoding.ASCII.GetBytes($"{i},"));
            if (i == 4000) file.Write([(byte)'c', (byte)'a', (byte)'f', 0xE9]);
            else file.Write("Paris"u8);
            file.Write(i % 2 == 0 ? "\r\n"u8 : "\n"u8);
        }

        // When
        var error = await Should.ThrowAsync<FileParseException>(() => ReadAllAsync(file.ToArray(), FileFormat.Csv, batchRecords: 100, chunk: 61));

        // Then
        error.Line.ShouldBe(4001);
        error.Reason.ShouldBe("the text is not valid UTF-8 (byte 0xE9): if the file has another encoding, set csv encoding (latin1, windows-1252)");
    }

    [Fact]
    public async Task ReadAsync_Utf8BomWithLatin1Declared_Throws()
    {
        // Given
        byte[] file = [.. Bom, .. "a\ncafé\n"u8];

        // When
        var error = await Should.ThrowAsync<FileParseException>(() => ReadAllAsync(file, FileFormat.Csv, new CsvOptions { Encoding = "latin1" }));

        // Then
        error.Line.ShouldBe(1);
        error.Reason.ShouldContain("UTF-8 byte order mark");
    }

    [Fact]
    public async Task ReadAsync_Utf16Csv_ThrowsSayingUtf16()
    {
        // Given
        var file = Encoding.Unicode.GetPreamble().Concat(Encoding.Unicode.GetBytes("a,b\n1,2\n")).ToArray();

        // When
        var error = await Should.ThrowAsync<FileParseException>(() => ReadAllAsync(file, FileFormat.Csv));

        // Then
        error.Reason.ShouldStartWith("the file is UTF-16 encoded");
    }

    [Theory]
    [InlineData("")]
    [InlineData("a,b\n")]
    [InlineData("a,b\n\n\n")]
    public async Task ReadAsync_CsvWithoutDataRows_YieldsNoRecordsButAllBytes(string text)
    {
        // Given
        var file = Encoding.UTF8.GetBytes(text);

        // When
        var batches = await ReadAllAsync(file, FileFormat.Csv);

        // Then
        batches.Sum(b => b.Records.Count).ShouldBe(0);
        batches.Count.ShouldBe(file.Length == 0 ? 0 : 1);
        Concat(batches).ShouldBe(file);
    }

    // JSON

    [Fact]
    public async Task ReadAsync_JsonArraySmallBatches_StreamsInSeveralBatches()
    {
        // Given: seven objects, one per line after the bracket, read three at a time
        var lines = Enumerable.Range(1, 7).Select(i => $"  {{ \"id\": {i}, \"name\": \"n {i}\" }}");
        var file = Encoding.UTF8.GetBytes("[\n" + string.Join(",\n", lines) + "\n]\n");

        // When
        var batches = await ReadAllAsync(file, FileFormat.Json, batchRecords: 3);

        // Then
        batches.Select(b => b.Records.Count).ShouldBe([3, 3, 1]);
        batches.SelectMany(b => b.Lines).ShouldBe([2L, 3L, 4L, 5L, 6L, 7L, 8L]);
        Texts(batches)[4].ShouldBe("""{"id":5,"name":"n 5"}""");
        Concat(batches).ShouldBe(file);
    }

    [Fact]
    public async Task ReadAsync_JsonSingleObject_OneRecordWithTokensAsWritten()
    {
        // Given
        byte[] file = [.. Bom, .. "{\n  \"amount\" : 1.50,\n  \"text\": \"a  b\\u00e9\\\"\",\n  \"list\": [ 1, {\"x\": null} ]\n}\n"u8];

        // When
        var batches = await ReadAllAsync(file, FileFormat.Json);

        // Then
        Texts(batches).ShouldBe(["""{"amount":1.50,"text":"a  b\u00e9\"","list":[1,{"x":null}]}"""]);
        batches.Single().Lines.ShouldBe([1L]);
        Concat(batches).ShouldBe(file);
    }

    [Fact]
    public async Task ReadAsync_JsonArrayElementNotAnObject_ThrowsWithItsLine()
    {
        // Given
        var file = "[\n{\"a\":1},\n{\"a\":2},\n42\n]"u8.ToArray();

        // When
        var error = await Should.ThrowAsync<FileParseException>(() => ReadAllAsync(file, FileFormat.Json, path: "x.json"));

        // Then
        error.Message.ShouldBe("x.json:4: element 3 of the array is not an object (found a number)");
    }

    [Fact]
    public async Task ReadAsync_JsonSyntaxErrorReadInSmallPieces_ThrowsWithItsLine()
    {
        // Given: the error (a missing colon) is on line 5, past several refills
        var file = "[\n{\"a\": 1},\n{\"a\": 2},\n{\"a\": 3},\n{\"a\" 4}\n]"u8.ToArray();

        // When
        var error = await Should.ThrowAsync<FileParseException>(() => ReadAllAsync(file, FileFormat.Json, chunk: 3));

        // Then
        error.Line.ShouldBe(5);
        error.Reason.ShouldStartWith("invalid JSON at byte 6 of the line: ");
        error.Reason.ShouldNotContain("LineNumber");
        error.Reason.ShouldNotContain("Exception");
    }

    [Theory]
    [InlineData(FileFormat.Json, "[\n{\"a\":1},\n{\"a\":\n \"caf\u00e9\"}]", 4)]
    [InlineData(FileFormat.Ndjson, "{\"a\":1}\n\n{\"a\":\"caf\u00e9\"}\n", 3)]
    public async Task ReadAsync_JsonStringNotUtf8_ThrowsWithTheLineOfTheByte(FileFormat format, string text, long line)
    {
        // Given: the é written as one Latin-1 byte
        var file = Encoding.Latin1.GetBytes(text);

        // When
        var error = await Should.ThrowAsync<FileParseException>(() => ReadAllAsync(file, format));

        // Then
        error.Line.ShouldBe(line);
        error.Reason.ShouldBe("the text is not valid UTF-8 (byte 0xE9): JSON files must be UTF-8");
    }

    [Theory]
    [InlineData("", "the file holds no JSON: expected an array of objects or one object")]
    [InlineData("  \n ", "the file holds no JSON: expected an array of objects or one object")]
    [InlineData("\"text\"", "expected a JSON array of objects or one object, found a string")]
    [InlineData("[[1]]", "element 1 of the array is not an object (found an array)")]
    public async Task ReadAsync_JsonNotObjects_Throws(string text, string reason)
    {
        // Given
        var file = Encoding.UTF8.GetBytes(text);

        // When
        var error = await Should.ThrowAsync<FileParseException>(() => ReadAllAsync(file, FileFormat.Json));

        // Then
        error.Reason.ShouldBe(reason);
    }

    [Theory]
    [InlineData("[{\"a\":1}] {\"b\":2}")]
    [InlineData("{\"a\":1}\n{\"b\":2}")]
    [InlineData("[{\"a\":1}")]
    public async Task ReadAsync_JsonWithMoreOrLessThanOneValue_Throws(string text)
    {
        // Given
        var file = Encoding.UTF8.GetBytes(text);

        // When
        var error = await Should.ThrowAsync<FileParseException>(() => ReadAllAsync(file, FileFormat.Json));

        // Then
        error.Reason.ShouldStartWith("invalid JSON");
    }

    [Fact]
    public async Task ReadAsync_EmptyJsonArray_YieldsOneBatchOfNone()
    {
        // Given
        var file = " [ ] \n"u8.ToArray();

        // When
        var batches = await ReadAllAsync(file, FileFormat.Json);

        // Then
        batches.Single().Records.ShouldBeEmpty();
        Concat(batches).ShouldBe(file);
    }

    // NDJSON

    [Fact]
    public async Task ReadAsync_NdjsonWithBlankLines_SkipsThemAndKeepsLineNumbers()
    {
        // Given
        byte[] file = [.. Bom, .. "{\"a\":1}\r\n\r\n   \n{ \"a\" : 2 }\n\n{\"a\":3}"u8];

        // When
        var batches = await ReadAllAsync(file, FileFormat.Ndjson, batchRecords: 2);

        // Then
        Texts(batches).ShouldBe(["""{"a":1}""", """{"a":2}""", """{"a":3}"""]);
        batches.SelectMany(b => b.Lines).ShouldBe([1L, 4L, 6L]);
        batches.Select(b => b.Records.Count).ShouldBe([2, 1]);
        Concat(batches).ShouldBe(file);
    }

    [Theory]
    [InlineData("[1,2]", "the line is not a JSON object (found an array)")]
    [InlineData("\"text\"", "the line is not a JSON object (found a string)")]
    [InlineData("{\"a\":1} {\"b\":2}", "invalid JSON at byte 9 of the line: ")]
    [InlineData("{\"a\":", "invalid JSON")]
    public async Task ReadAsync_NdjsonBadLine_ThrowsWithItsLine(string bad, string reason)
    {
        // Given
        var file = Encoding.UTF8.GetBytes("{\"a\":1}\n\n" + bad + "\n{\"a\":2}\n");

        // When
        var error = await Should.ThrowAsync<FileParseException>(() => ReadAllAsync(file, FileFormat.Ndjson, path: "in.ndjson"));

        // Then
        error.Line.ShouldBe(3);
        error.Reason.ShouldStartWith(reason);
        error.Message.ShouldStartWith("in.ndjson:3: ");
    }

    // Raw bytes and streaming

    public static TheoryData<FileFormat, string> Files() => new()
    {
        { FileFormat.Csv, "\uFEFFid,note\r\n1,\"a\r\nb\"\r\n\r\n2,\"q \"\"x\"\"\"\r\n3,é\r\n" },
        { FileFormat.Csv, "id;note\n1;x\n2;y" },
        { FileFormat.Json, "\uFEFF[\n {\"id\": 1, \"s\": \"é \\\" ]\"},\n {\"id\": 2},\n\n {\"id\": 3}\n]\n\n" },
        { FileFormat.Json, "{\"only\": [1, 2, 3]}" },
        { FileFormat.Ndjson, "\uFEFF{\"id\":1}\r\n\r\n{\"id\": 2, \"s\": \"é\"}\n{\"id\":3}\n\n" },
    };

    [Theory]
    [MemberData(nameof(Files))]
    public async Task ReadAsync_ManySmallReadsAndBatches_RawConcatenationIsTheFileAndRecordsAreTheSame(FileFormat format, string text)
    {
        // Given
        var file = Encoding.UTF8.GetBytes(text);
        var csv = new CsvOptions { Delimiter = text.Contains(';') ? ';' : ',' };
        var whole = await ReadAllAsync(file, format, csv);

        foreach (var (chunk, batchRecords) in new[] { (1, 1), (2, 1), (3, 2), (7, 1), (5, 100) })
        {
            // When
            var batches = await ReadAllAsync(file, format, csv, batchRecords, chunk);

            // Then
            Concat(batches).ShouldBe(file, $"chunk {chunk}, batch {batchRecords}");
            Texts(batches).ShouldBe(Texts(whole));
            batches.SelectMany(b => b.Lines).ShouldBe(whole.SelectMany(b => b.Lines));
            batches.ShouldAllBe(b => b.Records.Count <= batchRecords && b.Records.Count == b.Lines.Count);
        }
    }

    [Fact]
    public async Task ReadAsync_200kCsvRowsInBatchesOf10k_YieldsTwentyFullBatchesWhileStreaming()
    {
        // Given
        var text = new StringBuilder("id,name,value\n");
        for (var i = 0; i < 200_000; i++) text.Append(i).Append(",name ").Append(i).Append(',').Append(i * 7 % 1000).Append('\n');
        var file = Encoding.UTF8.GetBytes(text.ToString());
        var stream = new TrickleStream(file, maxRead: 64 * 1024, varySizes: false);
        var readAtBatch = new List<long>();
        var batches = new List<FileBatch>();

        // When
        await foreach (var batch in FileRecordReader.ReadAsync(stream, FileFormat.Csv, CsvOptions.Default, "big.csv", 10_000, TestContext.Current.CancellationToken))
        {
            readAtBatch.Add(stream.BytesRead);
            batches.Add(batch);
        }

        // Then: twenty full batches, no short one after them
        batches.Count.ShouldBe(20);
        batches.ShouldAllBe(b => b.Records.Count == 10_000);
        batches.Select(b => b.Lines[0]).ShouldBe(Enumerable.Range(0, 20).Select(i => 2L + i * 10_000));
        batches[^1].Lines[^1].ShouldBe(200_001);
        batches[^1].Records[^1].Fields["name"]!.GetValue<string>().ShouldBe("name 199999");
        // and the file was read as the batches went, never far ahead of them
        var perBatch = file.Length / 20;
        for (var i = 0; i < 19; i++) readAtBatch[i].ShouldBeLessThan((i + 1) * perBatch + 256 * 1024, $"batch {i + 1}");
        batches.ShouldAllBe(b => b.Raw.Length < perBatch + 256 * 1024);
        Concat(batches).ShouldBe(file);
    }

    [Fact]
    public async Task ReadAsync_LargeJsonArray_ReadsTheFileAsTheBatchesGo()
    {
        // Given
        var text = new StringBuilder("[");
        for (var i = 0; i < 50_000; i++) text.Append(i == 0 ? "" : ",").Append("\n  {\"id\": ").Append(i).Append(", \"tag\": \"t").Append(i).Append("\"}");
        var file = Encoding.UTF8.GetBytes(text.Append("\n]").ToString());
        var stream = new TrickleStream(file, maxRead: 64 * 1024, varySizes: false);
        var readAtFirst = 0L;
        var batches = new List<FileBatch>();

        // When
        await foreach (var batch in FileRecordReader.ReadAsync(stream, FileFormat.Json, CsvOptions.Default, "big.json", 5_000, TestContext.Current.CancellationToken))
        {
            if (batches.Count == 0) readAtFirst = stream.BytesRead;
            batches.Add(batch);
        }

        // Then
        batches.Count.ShouldBe(10);
        batches.ShouldAllBe(b => b.Records.Count == 5_000);
        readAtFirst.ShouldBeLessThan(file.Length / 10 + 256 * 1024);
        batches[^1].Lines[^1].ShouldBe(50_001);
        Concat(batches).ShouldBe(file);
    }

    [Fact]
    public async Task ReadAsync_Cancelled_StopsWithOperationCanceled()
    {
        // Given
        using var cancellation = new CancellationTokenSource();
        await cancellation.CancelAsync();
        var file = "a\n1\n"u8.ToArray();

        // When
        var read = async () =>
        {
            await foreach (var _ in FileRecordReader.ReadAsync(new MemoryStream(file), FileFormat.Csv, CsvOptions.Default, "a.csv", 10, cancellation.Token))
            {
            }
        };

        // Then
        await Should.ThrowAsync<OperationCanceledException>(read);
    }

    [Fact]
    public void ReadAsync_BatchRecordsBelowOne_ThrowsAtOnce()
    {
        // When
        var call = () => FileRecordReader.ReadAsync(new MemoryStream(), FileFormat.Csv, CsvOptions.Default, "a.csv", 0, TestContext.Current.CancellationToken);

        // Then
        call.ShouldThrow<ArgumentOutOfRangeException>();
    }

    private static async Task<List<FileBatch>> ReadAllAsync(byte[] file, FileFormat format, CsvOptions? csv = null, int batchRecords = 1000, int? chunk = null, string path = "data")
    {
        Stream stream = chunk is { } size ? new TrickleStream(file, size) : new MemoryStream(file);
        var batches = new List<FileBatch>();
        await foreach (var batch in FileRecordReader.ReadAsync(stream, format, csv ?? CsvOptions.Default, path, batchRecords, TestContext.Current.CancellationToken))
            batches.Add(batch);
        return batches;
    }

    private static List<string> Texts(IEnumerable<FileBatch> batches) =>
        batches.SelectMany(b => b.Records).Select(r => r.TryGetUtf8(out var json) ? Encoding.UTF8.GetString(json.Span) : throw new InvalidOperationException("not UTF-8")).ToList();

    private static byte[] Concat(IEnumerable<FileBatch> batches) => batches.SelectMany(b => b.Raw.ToArray()).ToArray();

    /// <summary>Hands out at most <c>maxRead</c> bytes a read (sizes cycling 1..max unless fixed) and counts them.</summary>
    private sealed class TrickleStream(byte[] data, int maxRead, bool varySizes = true) : Stream
    {
        private int _position;
        private int _next;

        public long BytesRead => _position;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var size = varySizes ? _next = _next % maxRead + 1 : maxRead;
            var count = Math.Min(Math.Min(buffer.Length, size), data.Length - _position);
            data.AsSpan(_position, count).CopyTo(buffer);
            _position += count;
            return count;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return ValueTask.FromResult(Read(buffer.Span));
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => data.Length;

        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
