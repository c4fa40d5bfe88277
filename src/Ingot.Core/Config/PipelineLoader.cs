using System.Globalization;
using System.Text.RegularExpressions;
using Ingot.Storage;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Ingot.Config;

/// <summary>
/// Reads a pipeline file into a frozen <see cref="PipelineSpec"/>. Strict: unknown keys, wrong types,
/// missing keys and unset variables are errors with <c>file:line:col</c>.
/// </summary>
public static partial class PipelineLoader
{
    [GeneratedRegex(@"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")]
    internal static partial Regex VariableRegex();

    [GeneratedRegex("^[a-z0-9_-]+$")]
    private static partial Regex NameRegex();

    /// <summary>A <c>base_url</c> naming the built-in simulator (offline quickstart and demos).</summary>
    public const string BuiltinSimulator = "simulator";

    public static PipelineSpec Load(string file, Func<string, string?> environment, Connectors.ConnectorRegistry connectors)
    {
        if (!File.Exists(file)) throw new ConfigException($"{file}: file not found");
        return Parse(File.ReadAllText(file), file, environment, connectors);
    }

    public static PipelineSpec Parse(string yaml, string file, Func<string, string?> environment, Connectors.ConnectorRegistry connectors)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            var inner = e.InnerException?.Message;
            throw new ConfigException(file, e.Start.Line, e.Start.Column, $"invalid YAML: {e.Message}{(inner is null ? "" : " (" + inner + ")")}");
        }
        catch (InvalidOperationException e)
        {
            // YamlDotNet's scanner throws this (without a position) for some unterminated structures, e.g. "[a" at the end.
            var lines = yaml.Split('\n');
            _ = e;
            throw new ConfigException(file, lines.Length, Math.Max(1, lines[^1].Length), "invalid YAML: the file ends inside an unclosed [, { or quote");
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new ConfigException(file, 1, 1, "a pipeline file must be a mapping with name, source and destinations");
        var ctx = new ConfigContext(file, environment);
        return ReadPipeline(new ConfigSection(ctx, root, "pipeline"), ctx, connectors);
    }

    /// <summary>
    /// <c>state_export</c> / <c>log_upload</c>: a path (<c>s3://bucket/key</c> or a local path, relative to the pipeline
    /// file's folder), or a mapping with <c>path</c> and the store keys of a file destination.
    /// </summary>
    private static ExportTarget? ReadTarget(ConfigSection m, string key, ConfigContext ctx)
    {
        var node = m.OptionalNode(key);
        if (node is null) return null;
        ConfigScalar path;
        var store = new Storage.StoreOptions();
        if (node is YamlMappingNode map)
        {
            var section = new ConfigSection(ctx, map, key);
            path = section.Required("path");
            store = StoreSettings.Read(section);
            section.RejectUnknown();
        }
        else
        {
            path = ctx.Scalar(node, key);
        }
        if (string.IsNullOrWhiteSpace(path.Value)) throw ctx.Error(path.Node, $"{key}: must not be empty");
        var value = ctx.LocalPath(path);
        if (key == "state_export" && value.EndsWith('/')) throw ctx.Error(path.Node, $"{key}: expected a file path such as s3://bucket/logs/checkpoints.json, found a folder");
        return new ExportTarget(value, store);
    }

    /// <summary>
    /// Reads the pipeline part by part (each key, source, destination, transform on its own): an error is kept and reading
    /// goes on, so every error of the file is reported at once, in file order.
    /// </summary>
    private static PipelineSpec ReadPipeline(ConfigSection m, ConfigContext ctx, Connectors.ConnectorRegistry connectors)
    {
        string name = "";
        ctx.Try(() =>
        {
            var n = m.Required("name");
            if (!NameRegex().IsMatch(n.Value)) throw ctx.Error(n.Node, $"name '{n.Value}' must match [a-z0-9_-]+");
            name = n.Value;
        });
        string? description = null, owner = null, schedule = null;
        var enabled = true;
        ctx.Try(() => description = m.Optional("description")?.Value);
        ctx.Try(() => owner = m.Optional("owner")?.Value);
        ctx.Try(() => enabled = m.Optional("enabled") is { } en ? ctx.Bool(en) : true);
        ctx.Try(() => schedule = m.Optional("schedule")?.Value);
        List<SourceSpec> sources = [];
        ctx.Try(() => sources = ReadSources(m, ctx, connectors));
        var http = HttpSpec.Default;
        ctx.Try(() => http = m.OptionalMap("http") is { } hm ? ReadHttp(hm, ctx) : HttpSpec.Default);
        var destinations = new List<DestinationSpec>();
        ctx.Try(() =>
        {
            var destNode = m.RequiredSequence("destinations");
            var counts = new Dictionary<string, int>(StringComparer.Ordinal);
            var index = 0;
            foreach (var item in destNode.Children)
            {
                var at = index++;
                ctx.Try(() =>
                {
                    if (item is not YamlMappingNode dm) throw ctx.Error(item, "each destination must be a mapping with type and path");
                    var section = new ConfigSection(ctx, dm, $"destinations[{at}]");
                    var type = section.Required("type");
                    var connector = connectors.Destination(type.Value)
                        ?? throw ctx.Error(type.Node, $"destinations.type: '{type.Value}' is not supported{Spelling.Hint(type.Value, connectors.DestinationTypes)} (supported: {string.Join(", ", connectors.DestinationTypes.Order(StringComparer.Ordinal))})");
                    counts[type.Value] = counts.GetValueOrDefault(type.Value) + 1;
                    var spec = connector.Read(section);
                    destinations.Add(spec with { Name = counts[type.Value] == 1 ? type.Value : $"{type.Value}#{counts[type.Value]}" });
                });
            }
            if (destNode.Children.Count == 0) throw ctx.Error(destNode, "destinations: at least one destination is required");
        });
        ValidationSpec? validation = null;
        ctx.Try(() =>
        {
            if (m.OptionalMap("validation") is not { } vm) return;
            // A destination that keeps invalid rows with their status (a PostgreSQL bronze table) makes keep the default.
            var onInvalid = destinations.Any(d => d.KeepsInvalidRows) ? OnInvalid.Keep : OnInvalid.Quarantine;
            ctx.Try(() =>
            {
                if (vm.Optional("on_invalid") is { } oi)
                {
                    onInvalid = oi.Value switch
                    {
                        "quarantine" => OnInvalid.Quarantine,
                        "keep" => OnInvalid.Keep,
                        "fail" => OnInvalid.Fail,
                        _ => throw ctx.Error(oi.Node, $"on_invalid: '{oi.Value}' is not one of quarantine, keep, fail"),
                    };
                    if (onInvalid == OnInvalid.Quarantine && destinations.Count > 0 && destinations.All(d => d.Lake is null))
                        throw ctx.Error(oi.Node, "on_invalid: quarantine needs a file destination (raw or parquet) to hold the quarantine beside its lake; use keep (invalid rows land marked invalid) or fail");
                }
            });
            string? schemaPath = null, warningsPath = null;
            ctx.Try(() =>
            {
                var schema = vm.Optional("schema");
                var warnings = vm.Optional("warnings");
                if (schema is null && warnings is null)
                    throw vm.Error("validation: give schema (records that fail it are invalid) and/or warnings (records that fail it are marked warning)");
                string? SchemaFile(ConfigScalar? node, string key)
                {
                    if (node is not { } n) return null;
                    var full = ctx.LocalPath(n);
                    return File.Exists(full) ? full : throw ctx.Error(n.Node, $"validation.{key}: file '{n.Value}' not found (relative paths start at the pipeline file's folder: {full})");
                }
                schemaPath = SchemaFile(schema, "schema");
                warningsPath = SchemaFile(warnings, "warnings");
            });
            vm.RejectUnknown();
            if (schemaPath is not null || warningsPath is not null) validation = new ValidationSpec(schemaPath, onInvalid) { WarningsPath = warningsPath };
        });
        var transforms = new List<TransformSpec>();
        ctx.Try(() =>
        {
            if (m.OptionalSequence("transforms") is not { } ts) return;
            foreach (var item in ts.Children)
            {
                ctx.Try(() =>
                {
                    if (item is not YamlMappingNode tm || tm.Children.Count != 1)
                        throw ctx.Error(item, "each transform is a mapping with one key, e.g. split: {field: attributes, separator: \",\"}");
                    var (keyNode, valueNode) = tm.Children.First();
                    var tname = ((YamlScalarNode)keyNode).Value ?? "";
                    if (valueNode is not YamlMappingNode settingsNode) throw ctx.Error(valueNode, $"transform {tname}: settings must be a mapping");
                    var settings = new Dictionary<string, string>(StringComparer.Ordinal);
                    foreach (var (k, v) in settingsNode.Children)
                    {
                        settings[((YamlScalarNode)k).Value ?? ""] = ctx.Scalar(v, $"transforms.{tname}").Value;
                    }
                    var spec = new TransformSpec(tname, settings);
                    var problem = TransformCatalog.Validate(spec);
                    if (problem is not null) throw ctx.Error(keyNode, $"transform {tname}: {problem}");
                    transforms.Add(spec);
                });
            }
        });
        ExportTarget? stateExport = null, logUpload = null;
        ctx.Try(() => stateExport = ReadTarget(m, "state_export", ctx));
        ctx.Try(() => logUpload = ReadTarget(m, "log_upload", ctx));
        List<AggregateSpec> aggregates = [];
        ctx.Try(() => aggregates = AggregateReader.Read(m, ctx, name, sources, destinations));
        m.RejectUnknown();
        ctx.ThrowIfAny();
        return new PipelineSpec(name, description, owner, enabled, schedule, sources, http, destinations, validation, transforms, ctx.File)
        {
            StateExport = stateExport,
            LogUpload = logUpload,
            Aggregates = aggregates,
        };
    }

    /// <summary><c>source:</c> (one mapping) or <c>sources:</c> (a list); each read by its type's connector. Source and stream names are unique.</summary>
    private static List<SourceSpec> ReadSources(ConfigSection m, ConfigContext ctx, Connectors.ConnectorRegistry connectors)
    {
        var single = m.OptionalMap("source");
        var many = m.OptionalSections("sources");
        if (single is not null && many is not null) throw m.ErrorAt("sources", "sources: give either source: (one) or sources: (a list), not both");
        IReadOnlyList<ConfigSection> sections = single is not null ? [single] : many ?? throw MissingSource(m, ctx);
        if (sections.Count == 0) throw m.ErrorAt("sources", "sources: at least one source is required");
        var list = new List<SourceSpec>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var streams = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var section in sections)
        {
            ctx.Try(() =>
            {
                var type = section.Required("type");
                var connector = connectors.Source(type.Value)
                    ?? throw ctx.Error(type.Node, $"{section.Path}.type: '{type.Value}' is not supported{Spelling.Hint(type.Value, connectors.SourceTypes)} (supported: {string.Join(", ", connectors.SourceTypes.Order(StringComparer.Ordinal))})");
                var nameNode = section.Optional("name");
                if (nameNode is { } nn && !NameRegex().IsMatch(nn.Value)) throw ctx.Error(nn.Node, $"{section.Path}.name: '{nn.Value}' must match [a-z0-9_-]+");
                var spec = connector.Read(section);
                if (nameNode is { } n) spec = spec with { Name = n.Value };
                if (!names.Add(spec.Name))
                    throw nameNode is { } dup ? ctx.Error(dup.Node, $"{section.Path}.name: a source named '{spec.Name}' is already defined") : section.Error($"two sources are named '{spec.Name}': give each a name");
                foreach (var stream in spec.Streams)
                {
                    if (streams.TryGetValue(stream, out var other))
                        throw section.Error($"stream '{stream}' of source '{spec.Name}' is also a stream of source '{other}': stream names are unique in a pipeline (they name lake folders and checkpoints)");
                    streams[stream] = spec.Name;
                }
                list.Add(spec);
            });
        }
        return list;
    }

    /// <summary>Neither <c>source:</c> nor <c>sources:</c>: a misspelling of either is named instead.</summary>
    private static ConfigException MissingSource(ConfigSection m, ConfigContext ctx)
    {
        foreach (var (k, _) in m.Node.Children)
        {
            var key = ((YamlScalarNode)k).Value ?? "";
            if (Spelling.Closest(key, ["source", "sources"]) is { } meant && key is not ("source" or "sources"))
            {
                m.MarkReported(key);
                return ctx.Error(k, $"{key}: unknown key (did you mean {meant}?)");
            }
        }
        return m.Error("source: required key is missing (or sources: a list of sources)");
    }

    private static HttpSpec ReadHttp(ConfigSection m, ConfigContext ctx)
    {
        var d = HttpSpec.Default;
        // Each key on its own: a bad value does not hide the next key's error.
        var concurrency = d.Concurrency;
        ctx.Try(() => concurrency = m.Optional("concurrency") is { } c ? (int)ctx.Long(c, 1, 1000) : d.Concurrency);
        double? rate = null;
        ctx.Try(() =>
        {
            if (m.Optional("rate_limit") is not { } r) return;
            if (!Values.TryRate(r.Value, out var perSecond)) throw ctx.Error(r.Node, $"rate_limit: '{r.Value}' is not a rate like 30/s");
            rate = perSecond;
        });
        long? quota = null;
        ctx.Try(() => quota = m.Optional("daily_quota") is { } q ? ctx.Long(q, 1) : null);
        var timeout = d.Timeout;
        ctx.Try(() => timeout = m.Optional("timeout") is { } t ? ctx.Duration(t) : d.Timeout);
        var retries = d.Retries;
        ctx.Try(() => retries = m.Optional("retries") is { } rt ? (int)ctx.Long(rt, 0, 100) : d.Retries);
        var (bmin, bmax) = (d.BackoffMin, d.BackoffMax);
        ctx.Try(() =>
        {
            if (m.Optional("backoff") is { } b && !Values.TryDurationRange(b.Value, out bmin, out bmax))
                throw ctx.Error(b.Node, $"backoff: '{b.Value}' is not a range like 1s..60s");
        });
        var cbFailures = d.CircuitBreakerFailures;
        ctx.Try(() => cbFailures = m.Optional("circuit_breaker_failures") is { } cf ? (int)ctx.Long(cf, 1, 10_000) : d.CircuitBreakerFailures);
        var cbPause = d.CircuitBreakerPause;
        ctx.Try(() => cbPause = m.Optional("circuit_breaker_pause") is { } cp ? ctx.Duration(cp) : d.CircuitBreakerPause);
        m.RejectUnknown();
        return new HttpSpec(concurrency, rate, quota, timeout, retries, bmin, bmax, cbFailures, cbPause);
    }
}
