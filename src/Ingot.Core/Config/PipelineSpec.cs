using Ingot.Storage;

namespace Ingot.Config;

/// <summary>A pipeline file, parsed and validated once. Nothing downstream re-reads configuration.</summary>
public sealed record PipelineSpec(
    string Name,
    string? Description,
    string? Owner,
    bool Enabled,
    string? Schedule,
    IReadOnlyList<SourceSpec> Sources,
    HttpSpec Http,
    IReadOnlyList<DestinationSpec> Destinations,
    ValidationSpec? Validation,
    IReadOnlyList<TransformSpec> Transforms,
    string FilePath)
{
    /// <summary>The first source (most pipelines have one: <c>source:</c>).</summary>
    public SourceSpec Source => Sources[0];

    /// <summary>Every stream of every source, in configuration order.</summary>
    public IEnumerable<string> Streams => Sources.SelectMany(s => s.Streams);

    /// <summary><c>state_export</c>: where the checkpoints are written as checkpoints.json after every run.</summary>
    public ExportTarget? StateExport { get; init; }

    /// <summary><c>log_upload</c>: the prefix the run's JSON log is put under, one object per run.</summary>
    public ExportTarget? LogUpload { get; init; }

    /// <summary><c>aggregates:</c> incremental aggregates over the bronze tables (DESIGN §4.2), run by <c>ingot aggregate</c> and after <c>ingot run</c>.</summary>
    public IReadOnlyList<AggregateSpec> Aggregates { get; init; } = [];
}

/// <summary>A file or prefix outside the lake (local or <c>s3://</c>) with its store settings.</summary>
public sealed record ExportTarget(string Path, StoreOptions Store);

/// <summary>
/// A source section, read and validated by its connector. <see cref="Name"/> is <c>sources[].name</c> (default the
/// type); <see cref="Streams"/> the streams it extracts; <see cref="Secrets"/> every credential, registered for redaction.
/// </summary>
public abstract record SourceSpec(string Type)
{
    public string Name { get; init; } = Type;

    public abstract IReadOnlyList<string> Streams { get; }

    public virtual IEnumerable<string?> Secrets => [];

    /// <summary>The secret that identifies the account a daily quota is counted against (never stored itself).</summary>
    public virtual string? QuotaKey => null;

    /// <summary>The stream's primary key fields (dot paths), or empty when it has none: a bronze table's <c>raw_id</c>.</summary>
    public virtual IReadOnlyList<string> PrimaryKey(string stream) => [];

    /// <summary>Record fields this source's own settings name (an <c>event_time</c>, a cursor), checked before any request.</summary>
    public virtual IReadOnlyList<FieldRef> FieldRefs => [];
}

public sealed record KnmiSourceSpec(
    string BaseUrl,
    string ApiKey,
    string Collection,
    IReadOnlyList<string> Stations,
    IReadOnlyList<string> Parameters,
    DateTimeOffset Start,
    DateTimeOffset? End,
    TimeSpan Step,
    long MaxDataPoints) : SourceSpec("knmi-edr")
{
    /// <summary>The one stream: the collection.</summary>
    public override IReadOnlyList<string> Streams => [Collection];

    public override IEnumerable<string?> Secrets => [ApiKey, .. Http.Redact.SecretsIn(BaseUrl)];

    public override string? QuotaKey => ApiKey;
}

public sealed record NoaaSourceSpec(
    string BaseUrl,
    string Token,
    string Dataset,
    IReadOnlyList<string> Stations,
    IReadOnlyList<string> Datatypes,
    string? Units,
    DateTimeOffset Start,
    DateTimeOffset? End,
    IsoPeriod Window,
    int PageSize,
    int StationsPerRequest) : SourceSpec("noaa-cdo")
{
    /// <summary>The one stream: the dataset id lowercased (<c>precip_15</c>).</summary>
    public override IReadOnlyList<string> Streams => [Dataset.ToLowerInvariant()];

    public override IEnumerable<string?> Secrets => [Token, .. Http.Redact.SecretsIn(BaseUrl)];

    public override string? QuotaKey => Token;
}

/// <summary>An ISO-8601 period of whole months or a fixed duration (P1M, P7D, PT1H).</summary>
public sealed record IsoPeriod(int Months, TimeSpan Duration, string Text)
{
    public DateTimeOffset AddTo(DateTimeOffset t) => t.AddMonths(Months).Add(Duration);
    public override string ToString() => Text;
}

public sealed record HttpSpec(
    int Concurrency,
    double? RateLimitPerSecond,
    long? DailyQuota,
    TimeSpan Timeout,
    int Retries,
    TimeSpan BackoffMin,
    TimeSpan BackoffMax,
    int CircuitBreakerFailures,
    TimeSpan CircuitBreakerPause)
{
    public static HttpSpec Default { get; } = new(8, null, null, TimeSpan.FromSeconds(120), 5, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), 10, TimeSpan.FromSeconds(30));
}

/// <summary>A destination section, read and validated by its connector.</summary>
public abstract record DestinationSpec(string Type)
{
    /// <summary>Unique within the pipeline: the type, then <c>type#2</c>, … for a second one (set by the loader).</summary>
    public string Name { get; init; } = Type;

    public virtual IEnumerable<string?> Secrets => [];

    /// <summary>Record fields this destination's settings name (partition columns), checked before any request.</summary>
    public virtual IReadOnlyList<FieldRef> FieldRefs => [];

    /// <summary>A lake folder or bucket this destination writes under, where the quarantine may go too; null for tables and topics.</summary>
    public virtual (string Path, StoreOptions Store)? Lake => null;

    /// <summary>
    /// True for a destination that stores each record's validation status and reasons beside it (a PostgreSQL bronze
    /// table): <c>validation.on_invalid</c> then defaults to <c>keep</c>, and the status travels on the page
    /// (<see cref="Destinations.FetchedPage.Checks"/>) instead of being written into the record's fields.
    /// </summary>
    public virtual bool KeepsInvalidRows => false;

    /// <summary>True for a destination that can hold an aggregate's result table beside the bronze table (<c>iceberg</c>).</summary>
    public virtual bool HoldsAggregates => false;
}

/// <summary>A destination that writes files under a folder or <c>s3://</c> prefix.</summary>
public abstract record StoreDestinationSpec(string Type, string Path, StoreOptions Store) : DestinationSpec(Type)
{
    public override IEnumerable<string?> Secrets => [Store.AccessKey, Store.SecretKey];

    public override (string Path, StoreOptions Store)? Lake => (Path, Store);
}

/// <summary><c>type: raw</c>: the byte-exact archive of every response body.</summary>
public sealed record RawDestinationSpec(string Path, StoreOptions Store) : StoreDestinationSpec("raw", Path, Store);

public enum OnInvalid { Quarantine, Keep, Fail }

/// <summary><c>validation:</c> the schema whose failures make a record invalid, and a second one whose failures only warn.</summary>
public sealed record ValidationSpec(string? SchemaPath, OnInvalid OnInvalid)
{
    /// <summary><c>validation.warnings</c>: a record the main schema accepts but this one does not is marked <c>warning</c>.</summary>
    public string? WarningsPath { get; init; }
}

/// <summary>
/// A record field a setting names (<c>partition_by: [station]</c>, <c>event_time: paid_at</c>), with where it is written,
/// so that a misspelt field is an error before any request rather than a lake of <c>__HIVE_DEFAULT_PARTITION__</c>.
/// <see cref="Stream"/>: the stream it applies to, or null for every stream of its source or destination.
/// </summary>
public sealed record FieldRef(string Field, string Setting, string Location, string? Stream = null);

/// <summary>A named transform with its settings (validated at load time by the transform registry).</summary>
public sealed record TransformSpec(string Name, IReadOnlyDictionary<string, string> Settings);
