using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Ingot.Storage;

namespace Ingot.S3;

/// <summary>
/// Client settings resolved once: <see cref="StoreOptions"/> first, then the standard AWS environment
/// (<c>AWS_ENDPOINT_URL_S3</c>, <c>AWS_ENDPOINT_URL</c>, <c>AWS_REGION</c>, <c>AWS_DEFAULT_REGION</c>);
/// credentials from options, otherwise the SDK default chain (environment keys, profile, instance role).
/// </summary>
internal sealed record S3Settings(string? Endpoint, string? Region, bool PathStyle, string? AccessKey, string? SecretKey)
{
    /// <summary>Region used to sign requests to a custom endpoint when none is configured.</summary>
    public const string DefaultSigningRegion = "us-east-1";

    public static S3Settings Resolve(StoreOptions options, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(environment);
        var endpoint = FirstSet(options.Endpoint, environment("AWS_ENDPOINT_URL_S3"), environment("AWS_ENDPOINT_URL"));
        if (endpoint is not null && !Uri.TryCreate(endpoint, UriKind.Absolute, out _))
            throw new Config.ConfigException($"S3 endpoint '{endpoint}' is not an absolute URL (e.g. http://127.0.0.1:9000)");
        var region = FirstSet(options.Region, environment("AWS_REGION"), environment("AWS_DEFAULT_REGION"));
        var accessKey = FirstSet(options.AccessKey);
        var secretKey = FirstSet(options.SecretKey);
        if ((accessKey is null) != (secretKey is null))
            throw new Config.ConfigException("S3 access_key and secret_key must be given together");
        // Custom endpoints (MinIO, s3rver, Ceph...) rarely have wildcard DNS for virtual-host buckets.
        var pathStyle = options.PathStyle ?? endpoint is not null;
        return new S3Settings(endpoint, region, pathStyle, accessKey, secretKey);
    }

    public AmazonS3Config ToConfig()
    {
        var config = new AmazonS3Config
        {
            ForcePathStyle = PathStyle,
            // We send Content-MD5 ourselves and verify ETags; the SDK's default CRC trailers/headers are not
            // understood by every S3-compatible server (s3rver stores aws-chunked framing verbatim).
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (Endpoint is not null)
        {
            config.ServiceURL = Endpoint;
            config.AuthenticationRegion = Region ?? DefaultSigningRegion;
        }
        else if (Region is not null)
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(Region);
        }
        return config;
    }

    public AmazonS3Client CreateClient() =>
        AccessKey is not null && SecretKey is not null
            ? new AmazonS3Client(new BasicAWSCredentials(AccessKey, SecretKey), ToConfig())
            : new AmazonS3Client(ToConfig());

    // Never print the keys: records print all properties by default.
    public override string ToString() => $"S3Settings {{ Endpoint = {Endpoint}, Region = {Region}, PathStyle = {PathStyle}, Credentials = {(AccessKey is null ? "default chain" : "explicit")} }}";

    private static string? FirstSet(params string?[] values) => values.FirstOrDefault(v => !string.IsNullOrWhiteSpace(v))?.Trim();
}
