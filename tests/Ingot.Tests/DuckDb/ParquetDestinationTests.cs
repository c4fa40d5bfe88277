using System.Text.Json.Nodes;
using Ingot.Config;
using Ingot.Destinations;
using Ingot.DuckDb;
using Ingot.DuckDb.Parquet;
using Ingot.Records;
using Ingot.Storage;
using Record = Ingot.Records.Record;

namespace Ingot.Tests.DuckDb;

public sealed class ParquetDestinationTests : IDisposable
{
    private static readonly DateTimeOffset IngestedAt = new(2024, 5, 6, 7, 8, 9, TimeSpan.Zero);
    private readonly string _root = Directory.CreateTempSubdirectory("ingot-parquet-").FullName;
    private readonly LocalBlobStore _store;
    private readonly TestRunContext _run = new(Guid.Parse("0b7c1a52-8f0e-4f5e-9a55-1d1c2b3a4d5e"), "knmi", "knmi-edr", IngestedAt, LoadType.Full);

    public ParquetDestinationTests() => _store = new LocalBlobStore(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private ParquetDestination Destination(long targetFileBytes = 0, params string[] partitionBy) =>
        ParquetDestination.Create(
            new ParquetDestinationSpec(_root, new StoreOptions(), partitionBy.Length == 0 ? ["ingestion_date", "load_type", "event_date"] : partitionBy, "zstd", targetFileBytes),
            _store, "knmi");

    private static Record Rec(string json, DateTimeOffset? eventTs) => new((JsonObject)JsonNode.Parse(json)!, eventTs);

    private static ChunkData Chunk(string key, params Record[] records) =>
        new(key, "obs", IngestedAt, [new FetchedPage(key, ReadOnlyMemory<byte>.Empty, "GET /", 200, IngestedAt, records)]);

    private string Lake => Path.Combine(_root, "knmi", "obs").Replace("'", "''", StringComparison.Ordinal);

    private sealed class RecordingJournal(string root) : IFileJournal
    {
        public List<string> Paths { get; } = [];
        public Task WillWriteAsync(string destination, IReadOnlyList<string> paths, CancellationToken cancellationToken)
        {
            destination.ShouldBe("parquet");
            foreach (var path in paths)
            {
                // The journal hears of a file before it is visible (a unit record is rewritten in place: it may exist).
                if (!path.Contains("/_units/", StringComparison.Ordinal)) File.Exists(Path.Combine(root, path)).ShouldBeFalse($"{path} is visible before it was journaled");
                else continue;
                Paths.Add(path);
            }
            return Task.CompletedTask;
        }
    }

    private static readonly DateTimeOffset Day1 = new(2024, 1, 1, 23, 30, 0, TimeSpan.FromHours(-2)); // 2024-01-02 01:30 UTC
    private static readonly DateTimeOffset Day2 = new(2024, 1, 3, 0, 0, 0, TimeSpan.Zero);

    private static ChunkData ChunkA() => Chunk("obs-2024-01",
        Rec("""{"station":"06260","value":1,"tags":["","","HI"],"ok":true,"attrs":{"q":1}}""", Day1),
        Rec("""{"station":"06240","value":2,"tags":[],"ok":false,"attrs":{"q":2}}""", Day2),
        Rec("""{"station":"06240","value":3,"tags":["x"],"extra":"e"}""", null));

    private static ChunkData ChunkB() => Chunk("obs-2024-02",
        Rec("""{"station":"06260","value":2.5,"tags":["a","b"],"ok":true}""", Day2),
        Rec("""{"station":"06270","value":7,"tags":null,"ok":null}""", Day2));

    [Fact]
    public async Task LandAsync_TwoChunks_EveryRecordOnceWithMetadataAndPartitions()
    {
        // Given
        await using var destination = Destination();
        var journal = new RecordingJournal(_root);
        await destination.PrepareAsync(_run.Run, TestContext.Current.CancellationToken);

        // When two chunks with mixed types land
        var a = ChunkA();
        var b = ChunkB();
        var landedA = await destination.LandAsync(_run, a, journal, TestContext.Current.CancellationToken);
        var landedB = await destination.LandAsync(_run, b, journal, TestContext.Current.CancellationToken);

        // Then the files are where DESIGN §5 puts them, journaled first, hashed right
        landedA.Select(f => f.Path).ShouldBe([
            "knmi/obs/ingestion_date=2024-05-06/load_type=full/event_date=2024-01-02/obs-2024-01-0.parquet",
            "knmi/obs/ingestion_date=2024-05-06/load_type=full/event_date=2024-01-03/obs-2024-01-0.parquet",
            "knmi/obs/ingestion_date=2024-05-06/load_type=full/event_date=__HIVE_DEFAULT_PARTITION__/obs-2024-01-0.parquet"]);
        landedB.Select(f => f.Path).ShouldBe(["knmi/obs/ingestion_date=2024-05-06/load_type=full/event_date=2024-01-03/obs-2024-02-0.parquet"]);
        journal.Paths.ShouldBe([.. landedA.Select(f => f.Path), .. landedB.Select(f => f.Path)]);
        foreach (var file in landedA.Concat(landedB))
        {
            var full = _store.FullPath(file.Path);
            new FileInfo(full).Length.ShouldBe(file.Bytes);
            Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(full))).ShouldBe(file.Sha256);
            (await destination.HashAsync(file.Path, TestContext.Current.CancellationToken)).ShouldBe(file.Sha256);
        }
        Directory.EnumerateFiles(_root, "_tmp_*", SearchOption.AllDirectories).ShouldBeEmpty();

        // And reading back through DuckDB gives every record once, typed and stamped
        using var session = DuckDbSession.Open();
        var rows = session.Query($"""
            SELECT station, value, tags, len(tags) AS n, ok, attrs, extra,
                   _ingestion_id, _ingested_at AS ingested, _source_system, _stream, _chunk_key, _record_hash,
                   _event_ts AS event_ts, event_date, ingestion_date, load_type,
                   typeof(value) AS value_type, typeof(tags) AS tags_type, typeof(_ingested_at) AS ingested_type
            FROM read_parquet('{Lake}/**/*.parquet', hive_partitioning = true, union_by_name = true)
            ORDER BY _chunk_key, station, value
            """);
        rows.Count.ShouldBe(5);
        var expected = a.Records.Select(r => (a.ChunkKey, r)).Concat(b.Records.Select(r => (b.ChunkKey, r)))
            .ToDictionary(x => x.r.Hash(), x => x);
        foreach (var row in rows)
        {
            var hash = (string)row[rows.Ordinal("_record_hash")]!;
            expected.ShouldContainKey(hash);
            var (chunkKey, record) = expected[hash];
            expected.Remove(hash);
            row[rows.Ordinal("_chunk_key")].ShouldBe(chunkKey);
            row[rows.Ordinal("station")].ShouldBe(record.Fields["station"]!.GetValue<string>());
            row[rows.Ordinal("_ingestion_id")].ShouldBe(_run.RunId.ToString());
            row[rows.Ordinal("ingested")].ShouldBe(new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.Zero));
            row[rows.Ordinal("_source_system")].ShouldBe("knmi-edr");
            row[rows.Ordinal("_stream")].ShouldBe("obs");
            row[rows.Ordinal("ingestion_date")].ShouldBe(new DateOnly(2024, 5, 6)); // a hive partition value DuckDB reads as a DATE
            row[rows.Ordinal("load_type")].ShouldBe("full");
            row[rows.Ordinal("value_type")].ShouldBe("DOUBLE"); // widened by chunk B, read with union_by_name
            row[rows.Ordinal("tags_type")].ShouldBe("VARCHAR[]");
            row[rows.Ordinal("ingested_type")].ShouldBe("TIMESTAMP WITH TIME ZONE");
            if (record.EventTs is { } ts)
            {
                row[rows.Ordinal("event_ts")].ShouldBe(ts.ToUniversalTime());
                row[rows.Ordinal("event_date")].ShouldBe(DateOnly.FromDateTime(ts.UtcDateTime));
            }
            else
            {
                row[rows.Ordinal("event_ts")].ShouldBeNull();
            }
        }
        expected.ShouldBeEmpty();

        // And string arrays are LISTs that keep empty strings and empty lists
        var tags = rows.ToDictionary(r => ((string)r[rows.Ordinal("_chunk_key")]!, (double)r[rows.Ordinal("value")]!), r => ((List<string>?)r[rows.Ordinal("tags")], r[rows.Ordinal("n")]));
        tags[("obs-2024-01", 1)].Item1.ShouldBe(["", "", "HI"]);
        tags[("obs-2024-01", 1)].Item2.ShouldBe(3L);
        tags[("obs-2024-01", 2)].Item1.ShouldBeEmpty();
        tags[("obs-2024-01", 3)].Item1.ShouldBe(["x"]);
        tags[("obs-2024-02", 7)].ShouldBe((null, null));
        session.Scalar($"SELECT count(*) FROM read_parquet('{Lake}/**/*.parquet', union_by_name = true) WHERE list_extract(tags, 1) = '' AND list_extract(tags, 3) = 'HI'").ShouldBe(1L);
        // Objects are JSON text; the event_date partition is a folder, not a column in the file
        session.Scalar($"SELECT attrs FROM read_parquet('{Lake}/**/*.parquet', union_by_name = true) WHERE station = '06260' AND _chunk_key = 'obs-2024-01'").ShouldBe("""{"q":1}""");
        session.Query($"DESCRIBE SELECT * FROM read_parquet('{Lake}/**/obs-2024-01-0.parquet', hive_partitioning = false)")
            .Select(r => (string)r[0]!).ShouldBe(["station", "value", "tags", "ok", "attrs", "extra", .. MetadataColumns.All], ignoreOrder: true);
    }

    /// <summary>Records a source keeps as UTF-8 text, with what makes reading text by hand hard.</summary>
    private static readonly string[] Awkward =
    [
        """{"station":"06260","value":1,"big":9223372036854775807,"neg":-0,"f":1.50,"e":1E+2,"ok":true,"none":null}""",
        """{ "value" : 2 , "station" : "06\u0032\"40\\", "f": 3, "e": 4, "text": "caf\u00e9 ☃ <&> '+`", "ok": false }""",
        """{"station":"06270","nested":{"z":[1,{"b":2,"a":"x"}],"a":null},"list":["a",null,"b"],"dlist":[1,2.5],"mixed":[1,"a"],"empty":[]}""",
        """{"station":"x\u2028y","ключ":"значение","\u00e9t\u00e9":1,"control":"tab\there","f":-1.5e-3}""",
        """{"station":"06280","value":3,"text":12,"mixed":"plain","list":[],"dlist":null}""",
    ];

    [Fact]
    public async Task LandAsync_Utf8RecordsAndObjects_WriteTheSameRowsAndHashes()
    {
        // Given the same records held as UTF-8 text (a file source) and as objects (a transformed record)
        var asText = Chunk("obs-text", [.. Awkward.Select(j => Record.FromUtf8(System.Text.Encoding.UTF8.GetBytes(j), Day2))]);
        var asObjects = Chunk("obs-objs", [.. Awkward.Select(j => Rec(j, Day2))]);
        asText.Records.All(r => r.TryGetUtf8(out _)).ShouldBeTrue();
        await using var destination = Destination(0, "ingestion_date");

        // When both land
        await destination.LandAsync(_run, asText, new RecordingJournal(_root), TestContext.Current.CancellationToken);
        await destination.LandAsync(_run, asObjects, new RecordingJournal(_root), TestContext.Current.CancellationToken);

        // Then every column reads back the same, and the hash is the canonical JSON's MD5 either way
        asText.Records.All(r => r.TryGetUtf8(out _)).ShouldBeTrue("landing must not turn text records into objects");
        using var session = DuckDbSession.Open();
        var columns = session.Query($"SELECT * FROM read_parquet('{Lake}/**/*.parquet') LIMIT 0").Columns
            .Where(c => c is not ("_chunk_key" or "ingestion_date")).Select(c => $"CAST({DuckDbSession.Identifier(c)} AS VARCHAR)");
        var select = $"SELECT {string.Join(", ", columns)} FROM read_parquet('{Lake}/**/*.parquet') WHERE _chunk_key = '{{0}}' ORDER BY _record_hash";
        var text = session.Query(string.Format(System.Globalization.CultureInfo.InvariantCulture, select, "obs-text"));
        var objects = session.Query(string.Format(System.Globalization.CultureInfo.InvariantCulture, select, "obs-objs"));
        text.Count.ShouldBe(Awkward.Length);
        for (var r = 0; r < text.Count; r++) text[r].ShouldBe(objects[r]);
        var hashes = session.Query($"SELECT _record_hash FROM read_parquet('{Lake}/**/*.parquet') WHERE _chunk_key = 'obs-text'").Select(row => (string)row[0]!);
        hashes.ShouldBe(Awkward.Select(j => RecordHasher.Md5Hex(JsonNode.Parse(j))), ignoreOrder: true);
        // And values come out decoded and typed: escapes resolved, source digits kept in JSON text, LISTs typed
        session.Scalar($"SELECT station FROM read_parquet('{Lake}/**/*.parquet') WHERE _chunk_key = 'obs-text' AND value = 2").ShouldBe("062\"40\\");
        session.Scalar($"SELECT text FROM read_parquet('{Lake}/**/*.parquet') WHERE _chunk_key = 'obs-text' AND value = 3").ShouldBe("12");
        session.Scalar($"SELECT big FROM read_parquet('{Lake}/**/*.parquet') WHERE _chunk_key = 'obs-text' AND value = 1").ShouldBe(long.MaxValue);
        session.Scalar($"SELECT typeof(e) || ' ' || typeof(dlist) || ' ' || typeof(list) FROM read_parquet('{Lake}/**/*.parquet') LIMIT 1").ShouldBe("DOUBLE DOUBLE[] VARCHAR[]");
        session.Scalar($"SELECT list FROM read_parquet('{Lake}/**/*.parquet') WHERE _chunk_key = 'obs-text' AND station = '06270'").ShouldBe(new List<string?> { "a", null, "b" });
        session.Scalar($"SELECT dlist FROM read_parquet('{Lake}/**/*.parquet') WHERE _chunk_key = 'obs-text' AND station = '06270'").ShouldBe(new List<double> { 1, 2.5 });
    }

    [Theory]
    [InlineData("""{"station":"a"} x""", "record 2 is not valid JSON")]
    [InlineData("""{"station":"a",}""", "record 2 is not valid JSON")]
    [InlineData("""[1,2]""", "record 2 is not a JSON object")]
    [InlineData("""{"station":"a","station":"b"}""", "record 2 has the field 'station' twice")]
    public async Task LandAsync_BadUtf8Record_FailsTheChunkNamingTheRecordAndLandsNothing(string bad, string reason)
    {
        // Given a chunk whose second record is not a usable JSON object
        var chunk = Chunk("obs-bad", Record.FromUtf8("""{"station":"ok"}"""u8.ToArray(), Day2), Record.FromUtf8(System.Text.Encoding.UTF8.GetBytes(bad), Day2));
        await using var destination = Destination();

        // When it lands
        var error = await Should.ThrowAsync<InvalidDataException>(() => destination.LandAsync(_run, chunk, new RecordingJournal(_root), TestContext.Current.CancellationToken));

        // Then the error names the chunk, the record and why, and no file appeared
        error.Message.ShouldContain("chunk 'obs-bad'");
        error.Message.ShouldContain(reason);
        Directory.EnumerateFiles(_root, "*.parquet", SearchOption.AllDirectories).ShouldBeEmpty();
    }

    [Fact]
    public async Task LandAsync_SameChunkTwice_ReplacesFilesWithoutDuplicates()
    {
        await using var destination = Destination();
        var journal = new RecordingJournal(_root);
        var first = await destination.LandAsync(_run, ChunkA(), new RecordingJournal(_root), TestContext.Current.CancellationToken);

        var second = await destination.LandAsync(_run, ChunkA(), new NoJournal(), TestContext.Current.CancellationToken);

        second.Select(f => f.Path).ShouldBe(first.Select(f => f.Path));
        second.Select(f => f.Sha256).ShouldBe(first.Select(f => f.Sha256)); // deterministic for the same data
        using var session = DuckDbSession.Open();
        session.Scalar($"SELECT count(*) FROM read_parquet('{Lake}/**/*.parquet', hive_partitioning = true)").ShouldBe(3L);
        Directory.EnumerateFiles(_root, "*.parquet", SearchOption.AllDirectories).Count().ShouldBe(3);
        Directory.EnumerateFiles(_root, "_tmp_*", SearchOption.AllDirectories).ShouldBeEmpty();
    }

    private sealed class NoJournal : IFileJournal
    {
        public Task WillWriteAsync(string destination, IReadOnlyList<string> paths, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    [Fact]
    public async Task LandAsync_WiderValues_WidensAndRecordsInSchema()
    {
        await using var destination = Destination();
        await destination.LandAsync(_run, Chunk("c1", Rec("""{"v":1,"s":"a","b":true}""", null)), new NoJournal(), TestContext.Current.CancellationToken);

        // When later chunks bring a double, a number into a string column, and a string into a bool column
        await destination.LandAsync(_run, Chunk("c2", Rec("""{"v":1.5,"s":5,"b":"maybe"}""", null)), new NoJournal(), TestContext.Current.CancellationToken);
        await destination.LandAsync(_run, Chunk("c3", Rec("""{"v":2,"s":"z","b":"no"}""", null)), new NoJournal(), TestContext.Current.CancellationToken);

        // Then the schema records the widenings, and later narrow values are cast to the established types
        var schema = JsonNode.Parse(File.ReadAllText(Path.Combine(_root, "knmi", "obs", "_schema.json")))!;
        schema["columns"]!.AsArray().Select(c => $"{c!["name"]}:{c["type"]}").ShouldBe(["v:DOUBLE", "s:VARCHAR", "b:VARCHAR"]);
        schema["changes"]!.AsArray().Select(c => $"{c!["column"]}:{c["from"]}->{c["to"]}@{c["chunk"]}").ShouldBe(["v:BIGINT->DOUBLE@c2", "b:BOOLEAN->VARCHAR@c2"]);
        using var session = DuckDbSession.Open();
        session.Query($"SELECT typeof(v), typeof(s), typeof(b), s FROM read_parquet('{Lake}/**/c2-0.parquet')")[0].ShouldBe(["DOUBLE", "VARCHAR", "VARCHAR", "5"]);
        session.Query($"SELECT typeof(v), v FROM read_parquet('{Lake}/**/c3-0.parquet')")[0].ShouldBe(["DOUBLE", 2.0]);
    }

    [Fact]
    public async Task LandAsync_ListColumnReceivesString_ThrowsNamingColumnChunkAndTypes()
    {
        await using var destination = Destination();
        await destination.LandAsync(_run, Chunk("c1", Rec("""{"tags":["a"]}""", null)), new NoJournal(), TestContext.Current.CancellationToken);

        var ex = await Should.ThrowAsync<SchemaDriftException>(() =>
            destination.LandAsync(_run, Chunk("c2", Rec("""{"tags":"a,b"}""", null)), new NoJournal(), TestContext.Current.CancellationToken));

        ex.Message.ShouldContain("'tags'");
        ex.Message.ShouldContain("'c2'");
        ex.Message.ShouldContain("VARCHAR[]");
        ex.Message.ShouldContain("brings VARCHAR");
        Directory.EnumerateFiles(_root, "c2-*", SearchOption.AllDirectories).ShouldBeEmpty();
    }

    [Fact]
    public async Task LandAsync_TargetFileSize_RollsToNumberedFiles()
    {
        await using var destination = Destination(targetFileBytes: 20_000, "load_type");
        var records = Enumerable.Range(0, 1000).Select(i => Rec($$"""{"i":{{i}},"s":"{{new string('x', 50)}}"}""", null)).ToArray();

        var landed = await destination.LandAsync(_run, Chunk("big", records), new NoJournal(), TestContext.Current.CancellationToken);

        landed.Count.ShouldBeGreaterThan(3);
        landed.Select(f => f.Path).ShouldBe(Enumerable.Range(0, landed.Count).Select(n => $"knmi/obs/load_type=full/big-{n}.parquet"));
        using var session = DuckDbSession.Open();
        session.Query($"SELECT count(*), count(DISTINCT i), min(i), max(i) FROM read_parquet('{Lake}/**/*.parquet')")[0].ShouldBe([1000L, 1000L, 0L, 999L]);
    }

    [Fact]
    public async Task LandAsync_FieldPartition_KeepsFieldInFileAndSanitisesFolder()
    {
        await using var destination = Destination(0, "station");

        var landed = await destination.LandAsync(_run, Chunk("c1",
            Rec("""{"station":"a/b","v":1}""", null),
            Rec("""{"station":"06260","v":2}""", null),
            Rec("""{"v":3}""", null)), new NoJournal(), TestContext.Current.CancellationToken);

        landed.Select(f => f.Path).ShouldBe([
            "knmi/obs/station=a_b/c1-0.parquet", "knmi/obs/station=06260/c1-0.parquet", "knmi/obs/station=__HIVE_DEFAULT_PARTITION__/c1-0.parquet"]);
        using var session = DuckDbSession.Open();
        session.Query($"SELECT station, v FROM read_parquet('{Lake}/**/*.parquet', hive_partitioning = false) ORDER BY v")
            .Select(r => (r[0], r[1])).ShouldBe([("a/b", 1L), ("06260", 2L), (null, 3L)]);
    }

    [Fact]
    public async Task PrepareAsync_StaleTemps_AreRemoved()
    {
        await using var destination = Destination();
        var dir = Path.Combine(_root, "knmi", "obs", "ingestion_date=2024-05-06");
        Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(Path.Combine(dir, "_tmp_x.parquet"), "partial", TestContext.Current.CancellationToken);

        await destination.PrepareAsync(_run.Run, TestContext.Current.CancellationToken);

        Directory.EnumerateFiles(_root, "_tmp_*", SearchOption.AllDirectories).ShouldBeEmpty();
    }

    [Fact]
    public async Task LandAsync_ConcurrentChunks_AllLand()
    {
        await using var destination = Destination();
        var chunks = Enumerable.Range(0, 8).Select(c => Chunk($"c{c}", Enumerable.Range(0, 500).Select(i => Rec($$"""{"c":{{c}},"i":{{i}}}""", Day2)).ToArray()));

        await Task.WhenAll(chunks.Select(c => destination.LandAsync(_run, c, new NoJournal(), TestContext.Current.CancellationToken)));

        using var session = DuckDbSession.Open();
        session.Scalar($"SELECT count(DISTINCT (c, i)) FROM read_parquet('{Lake}/**/*.parquet')").ShouldBe(4000L);
    }

    [Fact]
    public void Create_UnknownCompression_Throws()
    {
        Should.Throw<ArgumentException>(() => ParquetDestination.Create(
            new ParquetDestinationSpec(_root, new StoreOptions(), [], "lz5", 0), _store, "knmi")).Message.ShouldContain("lz5");
    }

    [Fact]
    public async Task LandAsync_WhileFilesAreMovedIntoPlace_NoReaderGlobSeesAScratchFile()
    {
        // Given a store that, each time a file is about to become visible, lists what a `**/*.parquet` reader would see
        var seen = new List<string>();
        var watching = new Watching(_store, () => seen.AddRange(Directory.EnumerateFiles(_root, "*.parquet", SearchOption.AllDirectories)));
        var destination = ParquetDestination.Create(
            new ParquetDestinationSpec(_root, new StoreOptions(), ["ingestion_date", "load_type", "event_date"], "zstd", 0), watching, "knmi");

        // When a chunk with several partitions lands
        var landed = await destination.LandAsync(_run, ChunkA(), new NoJournal(), TestContext.Current.CancellationToken);

        // Then such a reader never saw anything under _tmp/ or with a temp name, only finished files
        landed.Count.ShouldBeGreaterThan(1);
        seen.ShouldNotBeEmpty();
        seen.ShouldAllBe(f => !f.Contains("/_tmp/", StringComparison.Ordinal) && !Path.GetFileName(f).StartsWith("_tmp_", StringComparison.Ordinal));
        await destination.DisposeAsync();
    }

    private sealed class Watching(IBlobStore inner, Action beforePut) : IBlobStore
    {
        public string Root => inner.Root;
        public Task WriteAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken) => inner.WriteAsync(path, content, cancellationToken);
        public Task PutFileAsync(string path, string localFile, CancellationToken cancellationToken)
        {
            beforePut();
            return inner.PutFileAsync(path, localFile, cancellationToken);
        }
        public Task<Stream?> OpenReadAsync(string path, CancellationToken cancellationToken) => inner.OpenReadAsync(path, cancellationToken);
        public IAsyncEnumerable<BlobInfo> ListAsync(string prefix, CancellationToken cancellationToken) => inner.ListAsync(prefix, cancellationToken);
        public Task DeleteAsync(string path, CancellationToken cancellationToken) => inner.DeleteAsync(path, cancellationToken);
        public Task<int> RemoveStaleTempsAsync(string prefix, CancellationToken cancellationToken) => inner.RemoveStaleTempsAsync(prefix, cancellationToken);
        public string LocalScratchFor(string path) => inner.LocalScratchFor(path);
    }
}
