using Ingot.DuckDb.Parquet;
using Ingot.Config;

namespace Ingot.Tests.Core.Config;

public sealed class PipelineLoaderTests
{
    private const string File = "pipelines/test.yaml";

    // Line numbers in the error tests below count from this list: line n is Knmi[n - 1].
    private static readonly string[] Knmi =
    [
        "name: knmi-test",                          // 1
        "source:",                                  // 2
        "  type: knmi-edr",                         // 3
        "  base_url: https://example.test/edr/v1/", // 4
        "  api_key: secret-key",                    // 5
        "  collection: hourly-in-situ",             // 6
        "  stations: [0-20000-0-06260, 0-20000-0-06240]", // 7
        "  parameters: [T, RH]",                    // 8
        "  start: 2020-01-01T00:00:00Z",            // 9
        "  end: 2021-01-01T00:00:00Z",              // 10
        "  step: PT1H",                             // 11
        "destinations:",                            // 12
        "  - type: raw",                            // 13
        "    path: ./lake",                         // 14
    ];

    private static readonly string[] Noaa =
    [
        "name: noaa-test",                          // 1
        "source:",                                  // 2
        "  type: noaa-cdo",                         // 3
        "  base_url: https://example.test/cdo",     // 4
        "  token: tok",                             // 5
        "  dataset: PRECIP_15",                     // 6
        "  stations: [COOP:010008]",                // 7
        "  start: 2020-01-01T00:00:00Z",            // 8
        "  window: P1M",                            // 9
        "  page_size: 1000",                        // 10
        "destinations:",                            // 11
        "  - type: raw",                            // 12
        "    path: ./lake",                         // 13
    ];

    private static string Yaml(IEnumerable<string> lines) => string.Join('\n', lines) + "\n";

    private static string Replace(string[] lines, int line, string text)
    {
        var copy = lines.ToArray();
        copy[line - 1] = text;
        return Yaml(copy);
    }

    private static string Append(string[] lines, params string[] more) => Yaml(lines.Concat(more));

    private static string Without(string[] lines, int line) => Yaml(lines.Where((_, i) => i != line - 1));

    private static readonly Func<string, string?> NoEnvironment = _ => null;

    private static Func<string, string?> Env(params (string Name, string Value)[] values) =>
        name => values.FirstOrDefault(v => v.Name == name).Value;

    private static ConfigException ParseFails(string yaml, Func<string, string?>? environment = null) =>
        Should.Throw<ConfigException>(() => TestPipelines.Parse(yaml, File, environment ?? NoEnvironment));

    [Fact]
    public void Parse_FullKnmiPipeline_ReturnsExpectedSpec()
    {
        // Given
        var yaml = Yaml(
        [
            "name: knmi-hourly",
            "description: KNMI hourly",
            "owner: data-platform",
            "enabled: false",
            "schedule: \"0 6 * * *\"",
            "source:",
            "  type: knmi-edr",
            "  base_url: https://example.test/edr/v1/",
            "  api_key: ${KNMI_API_KEY}",
            "  collection: hourly-in-situ",
            "  stations: [0-20000-0-06260, 0-20000-0-06240]",
            "  parameters: [T, RH, DD]",
            "  start: 2020-01-01T00:00:00Z",
            "  end: 2021-01-01",
            "  step: PT1H",
            "  max_data_points: 100_000",
            "http:",
            "  concurrency: 12",
            "  rate_limit: 30/s",
            "  daily_quota: 1000",
            "  timeout: 10s",
            "  retries: 3",
            "  backoff: 100ms..2s",
            "  circuit_breaker_failures: 4",
            "  circuit_breaker_pause: 2m",
            "destinations:",
            "  - type: raw",
            "    path: ./lake",
            "  - type: parquet",
            "    path: s3://bucket/lake",
            "    compression: snappy",
            "    target_file_size: 64MB",
            "transforms:",
            "  - split: {field: attributes, separator: \",\"}",
            "  - epoch_ms: {field: time, as: time_ms}",
        ]);

        // When
        var spec = TestPipelines.Parse(yaml, File, Env(("KNMI_API_KEY", "k-123")));

        // Then
        spec.Name.ShouldBe("knmi-hourly");
        spec.Description.ShouldBe("KNMI hourly");
        spec.Owner.ShouldBe("data-platform");
        spec.Enabled.ShouldBeFalse();
        spec.Schedule.ShouldBe("0 6 * * *");
        spec.FilePath.ShouldBe(File);
        var source = spec.Source.ShouldBeOfType<KnmiSourceSpec>();
        source.Type.ShouldBe("knmi-edr");
        source.BaseUrl.ShouldBe("https://example.test/edr/v1");
        source.ApiKey.ShouldBe("k-123");
        source.Collection.ShouldBe("hourly-in-situ");
        source.Stations.ShouldBe(["0-20000-0-06260", "0-20000-0-06240"]);
        source.Parameters.ShouldBe(["T", "RH", "DD"]);
        source.Start.ShouldBe(new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero));
        source.End.ShouldBe(new DateTimeOffset(2021, 1, 1, 0, 0, 0, TimeSpan.Zero));
        source.Step.ShouldBe(TimeSpan.FromHours(1));
        source.MaxDataPoints.ShouldBe(100_000);
        spec.Http.ShouldBe(new HttpSpec(12, 30, 1000, TimeSpan.FromSeconds(10), 3, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(2), 4, TimeSpan.FromMinutes(2)));
        spec.Destinations.Count.ShouldBe(2);
        spec.Destinations[0].Type.ShouldBe("raw");
        // Relative to the pipeline file's folder, not to where ingot runs
        ((StoreDestinationSpec)spec.Destinations[0]).Path.ShouldBe(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(spec.FilePath))!, "lake")));
        spec.Destinations[1].Type.ShouldBe("parquet");
        ((ParquetDestinationSpec)spec.Destinations[1]).Path.ShouldBe("s3://bucket/lake");
        ((ParquetDestinationSpec)spec.Destinations[1]).Compression.ShouldBe("snappy");
        ((ParquetDestinationSpec)spec.Destinations[1]).TargetFileBytes.ShouldBe(64L << 20);
        spec.Validation.ShouldBeNull();
        spec.Transforms.Select(t => t.Name).ShouldBe(["split", "epoch_ms"]);
        spec.Transforms[0].Settings["separator"].ShouldBe(",");
        spec.Transforms[1].Settings["as"].ShouldBe("time_ms");
    }

    [Fact]
    public void Parse_MinimalKnmiPipeline_AppliesDefaults()
    {
        // Given
        var yaml = Without(Knmi, 10);

        // When
        var spec = TestPipelines.Parse(yaml, File, NoEnvironment);

        // Then
        spec.Enabled.ShouldBeTrue();
        spec.Description.ShouldBeNull();
        spec.Owner.ShouldBeNull();
        spec.Schedule.ShouldBeNull();
        spec.Http.ShouldBe(HttpSpec.Default);
        spec.Http.Concurrency.ShouldBe(8);
        spec.Http.RateLimitPerSecond.ShouldBeNull();
        spec.Http.DailyQuota.ShouldBeNull();
        var source = spec.Source.ShouldBeOfType<KnmiSourceSpec>();
        source.End.ShouldBeNull();
        source.MaxDataPoints.ShouldBe(300_000);
        spec.Transforms.ShouldBeEmpty();
        spec.Validation.ShouldBeNull();
        spec.Destinations.Single().ShouldBeOfType<RawDestinationSpec>();
    }

    [Fact]
    public void Parse_ParquetWithoutOptions_AppliesParquetDefaults()
    {
        // Given
        var yaml = Replace(Knmi, 13, "  - type: parquet");

        // When
        var destination = (ParquetDestinationSpec)TestPipelines.Parse(yaml, File, NoEnvironment).Destinations.Single();

        // Then
        destination.PartitionBy.ShouldBe(["ingestion_date", "load_type", "event_date"]);
        destination.Compression.ShouldBe("zstd");
        destination.TargetFileBytes.ShouldBe(128L << 20);
    }

    [Theory]
    [InlineData("P1D", 24 * 60)]
    [InlineData("PT1H", 60)]
    [InlineData("PT10M", 10)]
    public void Parse_KnmiStep_ReadsIsoPeriod(string step, int minutes)
    {
        // Given
        var yaml = Replace(Knmi, 11, $"  step: {step}");

        // When
        var source = (KnmiSourceSpec)TestPipelines.Parse(yaml, File, NoEnvironment).Source;

        // Then
        source.Step.ShouldBe(TimeSpan.FromMinutes(minutes));
    }

    [Fact]
    public void Parse_StepInMonths_FailsAtTheValue()
    {
        // Given
        var yaml = Replace(Knmi, 11, "  step: P1M");

        // When
        var e = ParseFails(yaml);

        // Then
        (e.Line, e.Column).ShouldBe((11L, 9L));
        e.Detail.ShouldBe("step: 'P1M' is not a time step like P1D, PT1H or PT10M");
    }

    [Fact]
    public void Parse_NoaaPipeline_ReturnsExpectedSpec()
    {
        // Given
        var yaml = Yaml(Noaa);

        // When
        var source = TestPipelines.Parse(yaml, File, NoEnvironment).Source.ShouldBeOfType<NoaaSourceSpec>();

        // Then
        source.Type.ShouldBe("noaa-cdo");
        source.Token.ShouldBe("tok");
        source.Dataset.ShouldBe("PRECIP_15");
        source.Stations.ShouldBe(["COOP:010008"]);
        source.Datatypes.ShouldBeEmpty();
        source.Window.Months.ShouldBe(1);
        source.Window.Text.ShouldBe("P1M");
        source.PageSize.ShouldBe(1000);
        source.StationsPerRequest.ShouldBe(10);
        source.End.ShouldBeNull();
    }

    [Fact]
    public void Parse_VariableSet_Interpolates()
    {
        // Given
        var yaml = Replace(Knmi, 5, "  api_key: Bearer ${KNMI_API_KEY}");

        // When
        var source = (KnmiSourceSpec)TestPipelines.Parse(yaml, File, Env(("KNMI_API_KEY", "abc"))).Source;

        // Then
        source.ApiKey.ShouldBe("Bearer abc");
    }

    [Fact]
    public void Parse_VariableUnsetWithDefault_UsesDefault()
    {
        // Given
        var yaml = Replace(Knmi, 6, "  collection: ${COLLECTION:-daily-validated}");

        // When
        var source = (KnmiSourceSpec)TestPipelines.Parse(yaml, File, NoEnvironment).Source;

        // Then
        source.Collection.ShouldBe("daily-validated");
    }

    [Fact]
    public void Parse_VariableSetWithDefault_EnvironmentWins()
    {
        // Given
        var yaml = Replace(Knmi, 6, "  collection: ${COLLECTION:-daily-validated}");

        // When
        var source = (KnmiSourceSpec)TestPipelines.Parse(yaml, File, Env(("COLLECTION", "hourly"))).Source;

        // Then
        source.Collection.ShouldBe("hourly");
    }

    [Fact]
    public void Parse_VariablesInListsAndNumbers_Interpolate()
    {
        // Given
        var yaml = Replace(Knmi, 7, "  stations: [\"${STATION}\", 0-20000-0-06240]") + "http:\n  concurrency: ${WORKERS:-3}\n";

        // When
        var spec = TestPipelines.Parse(yaml, File, Env(("STATION", "0-20000-0-06260")));

        // Then
        ((KnmiSourceSpec)spec.Source).Stations.ShouldBe(["0-20000-0-06260", "0-20000-0-06240"]);
        spec.Http.Concurrency.ShouldBe(3);
    }

    [Fact]
    public void Parse_UnsetVariableWithoutDefault_NamesVariableAndPointsAtIt()
    {
        // Given: "  api_key: key-" is 15 characters, so the variable starts in column 16
        var yaml = Replace(Knmi, 5, "  api_key: key-${KNMI_API_KEY}");

        // When
        var e = ParseFails(yaml);

        // Then
        e.Line.ShouldBe(5);
        e.Column.ShouldBe(16);
        e.Message.ShouldStartWith($"{File}:5:16: ");
        e.Detail!.ShouldContain("KNMI_API_KEY");
        e.Detail!.ShouldContain("not set");
    }

    [Fact]
    public void Parse_UnsetVariableInQuotedScalar_PointsAtVariable()
    {
        // Given: the quote is column 12, the variable column 13
        var yaml = Replace(Knmi, 5, "  api_key: \"${KNMI_API_KEY}\"");

        // When
        var e = ParseFails(yaml);

        // Then
        (e.Line, e.Column).ShouldBe((5L, 13L));
        e.Detail!.ShouldContain("KNMI_API_KEY");
    }

    [Fact]
    public void Parse_EmptyVariable_CountsAsUnset()
    {
        // Given
        var yaml = Replace(Knmi, 5, "  api_key: ${KNMI_API_KEY}");

        // When
        var e = ParseFails(yaml, Env(("KNMI_API_KEY", "")));

        // Then
        (e.Line, e.Column).ShouldBe((5L, 12L));
        e.Detail!.ShouldContain("KNMI_API_KEY");
    }

    [Fact]
    public void Parse_UnknownTopLevelKey_FailsAtTheKey()
    {
        // Given
        var yaml = Append(Knmi, "colour: blue");

        // When
        var e = ParseFails(yaml);

        // Then
        (e.Line, e.Column).ShouldBe((15L, 1L));
        e.Detail.ShouldBe("colour: unknown key");
        e.Message.ShouldBe($"{File}:15:1: colour: unknown key");
    }

    [Fact]
    public void Parse_UnknownNestedKey_FailsAtTheKeyWithItsPath()
    {
        // Given
        var yaml = Append(Knmi, "http:", "  concurency: 5");

        // When
        var e = ParseFails(yaml);

        // Then
        (e.Line, e.Column).ShouldBe((16L, 3L));
        e.Detail.ShouldBe("http.concurency: unknown key (did you mean concurrency?)");
    }

    [Fact]
    public void Parse_UnknownSourceKey_FailsAtTheKey()
    {
        // Given
        var yaml = Replace(Knmi, 6, "  colection: hourly");

        // When
        var e = ParseFails(yaml);

        // Then: the misspelt key is named, with the key it stands for (not a missing 'collection' elsewhere)
        e.Detail.ShouldBe("source.colection: unknown key (did you mean collection?)");
        (e.Line, e.Column).ShouldBe((6L, 3L));
    }

    [Fact]
    public void Parse_WrongType_FailsAtTheValue()
    {
        // Given: "  concurrency: " is 15 characters
        var yaml = Append(Knmi, "http:", "  concurrency: abc");

        // When
        var e = ParseFails(yaml);

        // Then
        (e.Line, e.Column).ShouldBe((16L, 16L));
        e.Detail.ShouldBe("expected a whole number, found 'abc'");
    }

    [Fact]
    public void Parse_ListWhereValueExpected_FailsAtTheList()
    {
        // Given
        var yaml = Replace(Knmi, 6, "  collection: [a, b]");

        // When
        var e = ParseFails(yaml);

        // Then
        (e.Line, e.Column).ShouldBe((6L, 15L));
        e.Detail.ShouldBe("source.collection: expected a single value, found a list");
    }

    [Fact]
    public void Parse_MissingRequiredKey_FailsAtTheParentMapping()
    {
        // Given
        var yaml = Without(Knmi, 6);

        // When
        var e = ParseFails(yaml);

        // Then: the source mapping begins at its first key, line 3 column 3
        (e.Line, e.Column).ShouldBe((3L, 3L));
        e.Detail.ShouldBe("source.collection: required key is missing");
    }

    [Fact]
    public void Parse_InvalidYamlSyntax_FailsWithPosition()
    {
        // Given: a second ': ' inside a plain value on line 1
        var yaml = Replace(Knmi, 1, "name: knmi: test");

        // When
        var e = ParseFails(yaml);

        // Then
        (e.Line, e.Column).ShouldBe((1L, 11L));
        e.Detail!.ShouldStartWith("invalid YAML: ");
        e.Message.ShouldStartWith($"{File}:1:11: invalid YAML: ");
    }

    [Fact]
    public void Parse_BadIndentation_FailsAtTheLine()
    {
        // Given: line 6 indented by one space instead of two
        var yaml = Replace(Knmi, 6, " collection: hourly");

        // When
        var e = ParseFails(yaml);

        // Then
        (e.Line, e.Column).ShouldBe((6L, 2L));
        e.Detail!.ShouldStartWith("invalid YAML: ");
    }

    [Fact]
    public void Parse_DuplicateKey_FailsAtTheSecondKey()
    {
        // Given
        var yaml = Replace(Knmi, 6, "  type: knmi-edr");

        // When
        var e = ParseFails(yaml);

        // Then
        (e.Line, e.Column).ShouldBe((6L, 3L));
        e.Detail!.ShouldContain("Duplicate key");
    }

    [Theory]
    [InlineData("name: Knmi-Test", "name 'Knmi-Test' must match [a-z0-9_-]+")]
    [InlineData("name: knmi test", "name 'knmi test' must match [a-z0-9_-]+")]
    [InlineData("name: knmi/test", "name 'knmi/test' must match [a-z0-9_-]+")]
    public void Parse_BadName_FailsAtTheName(string line, string detail)
    {
        // Given
        var yaml = Replace(Knmi, 1, line);

        // When
        var e = ParseFails(yaml);

        // Then
        (e.Line, e.Column).ShouldBe((1L, 7L));
        e.Detail.ShouldBe(detail);
    }

    [Fact]
    public void Parse_UnknownSourceType_FailsAtTheType()
    {
        // Given
        var yaml = Replace(Knmi, 3, "  type: knmi");

        // When
        var e = ParseFails(yaml);

        // Then
        (e.Line, e.Column).ShouldBe((3L, 9L));
        e.Detail.ShouldBe("source.type: 'knmi' is not supported (supported: files, knmi-edr, noaa-cdo, postgres, rest)");
    }

    [Theory]
    [InlineData("  end: 2019-01-01T00:00:00Z")]
    [InlineData("  end: 2020-01-01T00:00:00Z")]
    public void Parse_EndNotAfterStart_FailsAtTheEnd(string line)
    {
        // Given
        var yaml = Replace(Knmi, 10, line);

        // When
        var e = ParseFails(yaml);

        // Then
        (e.Line, e.Column).ShouldBe((10L, 8L));
        e.Detail.ShouldBe("end must be after start");
    }

    [Fact]
    public void Parse_BadInstant_FailsAtTheValue()
    {
        // Given
        var yaml = Replace(Knmi, 9, "  start: yesterday");

        // When
        var e = ParseFails(yaml);

        // Then
        (e.Line, e.Column).ShouldBe((9L, 10L));
        e.Detail!.ShouldContain("'yesterday'");
    }

    [Theory]
    [InlineData("P1Y")]
    [InlineData("P12M")]
    [InlineData("P365D")]
    public void Parse_NoaaWindowOfAYear_FailsAtTheWindow(string window)
    {
        // Given
        var yaml = Replace(Noaa, 9, $"  window: {window}");

        // When
        var e = ParseFails(yaml);

        // Then
        (e.Line, e.Column).ShouldBe((9L, 11L));
        e.Detail.ShouldBe("window must be under one year (NOAA rejects a range of a year or more)");
    }

    [Theory]
    [InlineData("P11M", 11, 0)]
    [InlineData("P7D", 0, 7)]
    public void Parse_NoaaWindowUnderAYear_IsAccepted(string window, int months, int days)
    {
        // Given
        var yaml = Replace(Noaa, 9, $"  window: {window}");

        // When
        var source = (NoaaSourceSpec)TestPipelines.Parse(yaml, File, NoEnvironment).Source;

        // Then
        source.Window.Months.ShouldBe(months);
        source.Window.Duration.ShouldBe(TimeSpan.FromDays(days));
    }

    [Fact]
    public void Parse_NoaaPageSizeOver1000_FailsAtTheValue()
    {
        // Given: "  page_size: " is 13 characters
        var yaml = Replace(Noaa, 10, "  page_size: 1001");

        // When
        var e = ParseFails(yaml);

        // Then
        (e.Line, e.Column).ShouldBe((10L, 14L));
        e.Detail.ShouldBe("1001 is out of range (1..1000)");
    }

    [Fact]
    public void Parse_UnknownTransform_FailsAtTheTransformName()
    {
        // Given
        var yaml = Append(Knmi, "transforms:", "  - explode: {field: a}");

        // When
        var e = ParseFails(yaml);

        // Then
        (e.Line, e.Column).ShouldBe((16L, 5L));
        e.Detail!.ShouldStartWith("transform explode: unknown transform");
    }

    [Fact]
    public void Parse_TransformMissingSetting_NamesTheSetting()
    {
        // Given
        var yaml = Append(Knmi, "transforms:", "  - split: {field: a}");

        // When
        var e = ParseFails(yaml);

        // Then
        (e.Line, e.Column).ShouldBe((16L, 5L));
        e.Detail.ShouldBe("transform split: setting 'separator' is required");
    }

    [Fact]
    public void Parse_TransformUnknownSetting_NamesTheSetting()
    {
        // Given
        var yaml = Append(Knmi, "transforms:", "  - split: {field: a, separator: \",\", limit: 2}");

        // When
        var e = ParseFails(yaml);

        // Then
        e.Detail.ShouldBe("transform split: unknown setting 'limit'");
    }

    [Fact]
    public void Parse_BadRate_FailsAtTheValue()
    {
        // Given: "  rate_limit: " is 14 characters
        var yaml = Append(Knmi, "http:", "  rate_limit: fast");

        // When
        var e = ParseFails(yaml);

        // Then
        (e.Line, e.Column).ShouldBe((16L, 15L));
        e.Detail.ShouldBe("rate_limit: 'fast' is not a rate like 30/s");
    }

    [Fact]
    public void Parse_BadBackoff_FailsAtTheValue()
    {
        // Given: "  backoff: " is 11 characters
        var yaml = Append(Knmi, "http:", "  backoff: 2s..1s");

        // When
        var e = ParseFails(yaml);

        // Then
        (e.Line, e.Column).ShouldBe((16L, 12L));
        e.Detail.ShouldBe("backoff: '2s..1s' is not a range like 1s..60s");
    }

    [Fact]
    public void Parse_EmptyDestinations_Fails()
    {
        // Given
        var yaml = Yaml(Knmi.Take(11).Append("destinations: []"));

        // When
        var e = ParseFails(yaml);

        // Then
        (e.Line, e.Column).ShouldBe((12L, 15L));
        e.Detail.ShouldBe("destinations: at least one destination is required");
    }

    [Fact]
    public void Parse_NotAMapping_FailsAtLineOne()
    {
        // Given
        var yaml = "- just\n- a list\n";

        // When
        var e = ParseFails(yaml);

        // Then
        (e.Line, e.Column).ShouldBe((1L, 1L));
    }

    [Fact]
    public void Load_MissingFile_Fails()
    {
        // Given
        var path = Path.Combine(Path.GetTempPath(), $"ingot-missing-{Guid.NewGuid():N}.yaml");

        // When
        var e = Should.Throw<ConfigException>(() => TestPipelines.Load(path, NoEnvironment));

        // Then
        e.Message.ShouldBe($"{path}: file not found");
    }
}
