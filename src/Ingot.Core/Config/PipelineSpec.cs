using Ingot.Storage;

namespace Ingot.Config;

/// <summary>A pipeline file, parsed and validated once. Nothing downstream re-reads configuration.</summary>
public sealed record PipelineSpec(
    string Name,
    string? Description,
    string? Owner,
    bool Enabled,
    string? Schedule,
    SourceSpec Source,
    HttpSpec Http,
    IReadOnlyList<DestinationSpec> Destinations,
    ValidationSpec? Validation,
    IReadOnlyList<TransformSpec> Transforms,
    string FilePath);

public abstract record SourceSpec(string Type);

public sealed record KnmiSourceSpec(
    string BaseUrl,
    string ApiKey,
    string Collection,
    IReadOnlyList<string> Stations,
    IReadOnlyList<string> Parameters,
    DateTimeOffset Start,
    DateTimeOffset? End,
    TimeSpan Step,
    long MaxDataPoints) : SourceSpec("knmi-edr");

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
    int StationsPerRequest) : SourceSpec("noaa-cdo");

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

public sealed record DestinationSpec(
    string Type,
    string Path,
    IReadOnlyList<string> PartitionBy,
    string Compression,
    long TargetFileBytes,
    StoreOptions Store);

public enum OnInvalid { Quarantine, Keep, Fail }

public sealed record ValidationSpec(string SchemaPath, OnInvalid OnInvalid);

/// <summary>A named transform with its settings (validated at load time by the transform registry).</summary>
public sealed record TransformSpec(string Name, IReadOnlyDictionary<string, string> Settings);
