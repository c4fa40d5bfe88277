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
    private static partial Regex VariableRegex();

    [GeneratedRegex("^[a-z0-9_-]+$")]
    private static partial Regex NameRegex();

    /// <summary>A <c>base_url</c> naming the built-in simulator (offline quickstart and demos).</summary>
    public const string BuiltinSimulator = "simulator";

    public static PipelineSpec Load(string file, Func<string, string?> environment)
    {
        if (!File.Exists(file)) throw new ConfigException($"{file}: file not found");
        return Parse(File.ReadAllText(file), file, environment);
    }

    public static PipelineSpec Parse(string yaml, string file, Func<string, string?> environment)
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
            throw new ConfigException(file, lines.Length, Math.Max(1, lines[^1].Length), $"invalid YAML: {e.Message} (an unclosed [ or {{ or quote?)");
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new ConfigException(file, 1, 1, "a pipeline file must be a mapping with name, source and destinations");
        var ctx = new Ctx(file, environment);
        return ReadPipeline(new Map(ctx, root, "pipeline"), ctx);
    }

    private static PipelineSpec ReadPipeline(Map m, Ctx ctx)
    {
        var name = m.Required("name");
        if (!NameRegex().IsMatch(name.Value)) throw ctx.Error(name.Node, $"name '{name.Value}' must match [a-z0-9_-]+");
        var description = m.Optional("description")?.Value;
        var owner = m.Optional("owner")?.Value;
        var enabled = m.Optional("enabled") is { } en ? ctx.Bool(en) : true;
        var schedule = m.Optional("schedule")?.Value;
        var source = ReadSource(m.RequiredMap("source"), ctx);
        var http = m.OptionalMap("http") is { } hm ? ReadHttp(hm, ctx) : HttpSpec.Default;
        var destinations = new List<DestinationSpec>();
        var destNode = m.RequiredSequence("destinations");
        foreach (var item in destNode.Children)
        {
            if (item is not YamlMappingNode dm) throw ctx.Error(item, "each destination must be a mapping with type and path");
            destinations.Add(ReadDestination(new Map(ctx, dm, "destinations[]"), ctx));
        }
        if (destinations.Count == 0) throw ctx.Error(destNode, "destinations: at least one destination is required");
        ValidationSpec? validation = null;
        if (m.OptionalMap("validation") is { } vm)
        {
            var schema = vm.Required("schema");
            var onInvalid = vm.Optional("on_invalid") is { } oi
                ? oi.Value switch
                {
                    "quarantine" => OnInvalid.Quarantine,
                    "keep" => OnInvalid.Keep,
                    "fail" => OnInvalid.Fail,
                    _ => throw ctx.Error(oi.Node, $"on_invalid: '{oi.Value}' is not one of quarantine, keep, fail"),
                }
                : OnInvalid.Quarantine;
            var schemaPath = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(ctx.File)) ?? ".", schema.Value));
            if (!File.Exists(schemaPath)) throw ctx.Error(schema.Node, $"validation.schema: file '{schema.Value}' not found");
            vm.RejectUnknown();
            validation = new ValidationSpec(schemaPath, onInvalid);
        }
        var transforms = new List<TransformSpec>();
        if (m.OptionalSequence("transforms") is { } ts)
        {
            foreach (var item in ts.Children)
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
            }
        }
        m.RejectUnknown();
        return new PipelineSpec(name.Value, description, owner, enabled, schedule, source, http, destinations, validation, transforms, ctx.File);
    }

    private static SourceSpec ReadSource(Map m, Ctx ctx)
    {
        var type = m.Required("type");
        switch (type.Value)
        {
            case "knmi-edr":
            {
                var baseUrl = ctx.Url(m.Required("base_url"));
                var apiKey = m.Required("api_key");
                var collection = m.Required("collection").Value;
                var stations = m.RequiredList("stations");
                var parameters = m.RequiredList("parameters");
                var start = ctx.Instant(m.Required("start"));
                var end = m.Optional("end") is { } e ? ctx.Instant(e) : (DateTimeOffset?)null;
                if (end is not null && end <= start) throw ctx.Error(m.Optional("end")!.Value.Node, "end must be after start");
                var stepNode = m.Required("step");
                if (!Values.TryPeriod(stepNode.Value, out var step) || step.Months != 0)
                    throw ctx.Error(stepNode.Node, $"step: '{stepNode.Value}' is not a time step like P1D, PT1H or PT10M");
                var maxPoints = m.Optional("max_data_points") is { } mp ? ctx.Long(mp, 1) : 300_000;
                m.RejectUnknown();
                return new KnmiSourceSpec(baseUrl, apiKey.Value, collection, stations, parameters, start, end, step.Duration, maxPoints);
            }
            case "noaa-cdo":
            {
                var baseUrl = ctx.Url(m.Required("base_url"));
                var token = m.Required("token").Value;
                var dataset = m.Required("dataset").Value;
                var stations = m.RequiredList("stations");
                var datatypes = m.OptionalList("datatypes") ?? [];
                var units = m.Optional("units")?.Value;
                if (units is not null and not ("standard" or "metric")) throw ctx.Error(m.Optional("units")!.Value.Node, "units must be standard or metric");
                var start = ctx.Instant(m.Required("start"));
                var end = m.Optional("end") is { } e ? ctx.Instant(e) : (DateTimeOffset?)null;
                var window = new IsoPeriod(1, TimeSpan.Zero, "P1M");
                if (m.Optional("window") is { } w)
                {
                    if (!Values.TryPeriod(w.Value, out window)) throw ctx.Error(w.Node, $"window: '{w.Value}' is not an ISO-8601 period like P1M or P7D");
                    var probe = new DateTimeOffset(2001, 1, 1, 0, 0, 0, TimeSpan.Zero);
                    if (window.AddTo(probe) >= probe.AddYears(1)) throw ctx.Error(w.Node, "window must be under one year (NOAA rejects a range of a year or more)");
                }
                var pageSize = m.Optional("page_size") is { } ps ? (int)ctx.Long(ps, 1, 1000) : 1000;
                var perRequest = m.Optional("stations_per_request") is { } spr ? (int)ctx.Long(spr, 1, 100) : 10;
                m.RejectUnknown();
                return new NoaaSourceSpec(baseUrl, token, dataset, stations, datatypes, units, start, end, window, pageSize, perRequest);
            }
            default:
                throw ctx.Error(type.Node, $"source.type: '{type.Value}' is not supported (supported: knmi-edr, noaa-cdo)");
        }
    }

    private static HttpSpec ReadHttp(Map m, Ctx ctx)
    {
        var d = HttpSpec.Default;
        var concurrency = m.Optional("concurrency") is { } c ? (int)ctx.Long(c, 1, 1000) : d.Concurrency;
        double? rate = null;
        if (m.Optional("rate_limit") is { } r)
        {
            if (!Values.TryRate(r.Value, out var perSecond)) throw ctx.Error(r.Node, $"rate_limit: '{r.Value}' is not a rate like 30/s");
            rate = perSecond;
        }
        var quota = m.Optional("daily_quota") is { } q ? ctx.Long(q, 1) : (long?)null;
        var timeout = m.Optional("timeout") is { } t ? ctx.Duration(t) : d.Timeout;
        var retries = m.Optional("retries") is { } rt ? (int)ctx.Long(rt, 0, 100) : d.Retries;
        var (bmin, bmax) = (d.BackoffMin, d.BackoffMax);
        if (m.Optional("backoff") is { } b && !Values.TryDurationRange(b.Value, out bmin, out bmax))
            throw ctx.Error(b.Node, $"backoff: '{b.Value}' is not a range like 1s..60s");
        var cbFailures = m.Optional("circuit_breaker_failures") is { } cf ? (int)ctx.Long(cf, 1, 10_000) : d.CircuitBreakerFailures;
        var cbPause = m.Optional("circuit_breaker_pause") is { } cp ? ctx.Duration(cp) : d.CircuitBreakerPause;
        m.RejectUnknown();
        return new HttpSpec(concurrency, rate, quota, timeout, retries, bmin, bmax, cbFailures, cbPause);
    }

    private static DestinationSpec ReadDestination(Map m, Ctx ctx)
    {
        var type = m.Required("type");
        if (type.Value is not ("raw" or "parquet"))
            throw ctx.Error(type.Node, $"destinations.type: '{type.Value}' is not supported (supported: raw, parquet)");
        var path = m.Required("path").Value;
        IReadOnlyList<string> partitionBy = [];
        var compression = "zstd";
        long targetBytes = 128L << 20;
        if (type.Value == "parquet")
        {
            partitionBy = m.OptionalList("partition_by") ?? ["ingestion_date", "load_type", "event_date"];
            if (m.Optional("compression") is { } comp)
            {
                if (comp.Value is not ("zstd" or "snappy" or "uncompressed")) throw ctx.Error(comp.Node, "compression must be zstd, snappy or uncompressed");
                compression = comp.Value;
            }
            if (m.Optional("target_file_size") is { } tfs) targetBytes = ctx.Bytes(tfs);
        }
        var store = new StoreOptions(
            m.Optional("endpoint")?.Value,
            m.Optional("region")?.Value,
            m.Optional("path_style") is { } ps ? ctx.Bool(ps) : null,
            m.Optional("access_key")?.Value,
            m.Optional("secret_key")?.Value);
        m.RejectUnknown();
        return new DestinationSpec(type.Value, path, partitionBy, compression, targetBytes, store);
    }

    internal readonly record struct Scalar(string Value, YamlNode Node);

    internal sealed class Ctx(string file, Func<string, string?> environment)
    {
        public string File { get; } = file;

        public ConfigException Error(YamlNode node, string message) => new(File, node.Start.Line, node.Start.Column, message);

        public Scalar Scalar(YamlNode node, string key)
        {
            if (node is not YamlScalarNode s) throw Error(node, $"{key}: expected a single value, found a {(node is YamlSequenceNode ? "list" : "mapping")}");
            var raw = s.Value ?? "";
            var value = VariableRegex().Replace(raw, match =>
            {
                var name = match.Groups[1].Value;
                var v = environment(name);
                if (!string.IsNullOrEmpty(v)) return v;
                if (match.Groups[2].Success) return match.Groups[2].Value;
                // Point at the variable itself when the scalar is on one line.
                var col = s.Start.Column + (s.Style == YamlDotNet.Core.ScalarStyle.Plain ? match.Index : match.Index + 1);
                throw new ConfigException(File, s.Start.Line, col, $"{key}: environment variable {name} is not set (use ${{{name}:-default}} for a default)");
            });
            return new Scalar(value, s);
        }

        public bool Bool(Scalar s) => s.Value switch
        {
            "true" or "True" or "yes" => true,
            "false" or "False" or "no" => false,
            _ => throw Error(s.Node, $"expected true or false, found '{s.Value}'"),
        };

        public long Long(Scalar s, long min, long max = long.MaxValue)
        {
            if (!long.TryParse(s.Value.Replace("_", "", StringComparison.Ordinal), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v))
                throw Error(s.Node, $"expected a whole number, found '{s.Value}'");
            if (v < min || v > max) throw Error(s.Node, $"{v} is out of range ({min}..{(max == long.MaxValue ? "" : max)})");
            return v;
        }

        public long Bytes(Scalar s)
        {
            var t = s.Value.Trim().ToUpperInvariant();
            long mult = 1;
            foreach (var (suffix, m) in new[] { ("GB", 1L << 30), ("MB", 1L << 20), ("KB", 1L << 10), ("B", 1L) })
            {
                if (t.EndsWith(suffix, StringComparison.Ordinal)) { mult = m; t = t[..^suffix.Length].Trim(); break; }
            }
            if (!long.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) || v < 0)
                throw Error(s.Node, $"expected a size like 128MB, found '{s.Value}'");
            return v * mult;
        }

        public TimeSpan Duration(Scalar s) =>
            Values.TryDuration(s.Value, out var d) && d > TimeSpan.Zero ? d : throw Error(s.Node, $"expected a duration like 100ms, 10s or 2m, found '{s.Value}'");

        public DateTimeOffset Instant(Scalar s) =>
            Values.TryInstant(s.Value, out var t) ? t : throw Error(s.Node, $"expected a UTC time like 2000-01-01T00:00:00Z, found '{s.Value}'");

        /// <summary>An http(s) URL, or <c>simulator</c>: the built-in simulator of the source's API, started in-process.</summary>
        public string Url(Scalar s) =>
            s.Value == BuiltinSimulator ? s.Value : Uri.TryCreate(s.Value, UriKind.Absolute, out var u) && (u.Scheme == "http" || u.Scheme == "https")
                ? s.Value.TrimEnd('/')
                : throw Error(s.Node, $"expected an http(s) URL or 'simulator', found '{s.Value}'");
    }

    internal sealed class Map(Ctx ctx, YamlMappingNode node, string path)
    {
        private readonly HashSet<string> _used = new(StringComparer.Ordinal);

        private YamlNode? Get(string key)
        {
            _used.Add(key);
            return node.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v : null;
        }

        private string Qualified(string key) => path == "pipeline" ? key : $"{path}.{key}";

        public Scalar? Optional(string key)
        {
            var v = Get(key);
            if (v is null || v is YamlScalarNode { Value: null or "" } && ((YamlScalarNode)v).Style == ScalarStyle.Plain) return null;
            return ctx.Scalar(v, Qualified(key));
        }

        public Scalar Required(string key)
        {
            var v = Get(key) ?? throw ctx.Error(node, $"{Qualified(key)}: required key is missing");
            var s = ctx.Scalar(v, Qualified(key));
            if (string.IsNullOrEmpty(s.Value)) throw ctx.Error(v, $"{Qualified(key)}: must not be empty");
            return s;
        }

        public Map RequiredMap(string key)
        {
            var v = Get(key) ?? throw ctx.Error(node, $"{Qualified(key)}: required key is missing");
            return v is YamlMappingNode m ? new Map(ctx, m, Qualified(key)) : throw ctx.Error(v, $"{Qualified(key)}: expected a mapping");
        }

        public Map? OptionalMap(string key)
        {
            var v = Get(key);
            if (v is null) return null;
            return v is YamlMappingNode m ? new Map(ctx, m, Qualified(key)) : throw ctx.Error(v, $"{Qualified(key)}: expected a mapping");
        }

        public YamlSequenceNode RequiredSequence(string key)
        {
            var v = Get(key) ?? throw ctx.Error(node, $"{Qualified(key)}: required key is missing");
            return v as YamlSequenceNode ?? throw ctx.Error(v, $"{Qualified(key)}: expected a list");
        }

        public YamlSequenceNode? OptionalSequence(string key)
        {
            var v = Get(key);
            if (v is null) return null;
            return v as YamlSequenceNode ?? throw ctx.Error(v, $"{Qualified(key)}: expected a list");
        }

        public IReadOnlyList<string> RequiredList(string key)
        {
            var seq = RequiredSequence(key);
            var list = seq.Children.Select(c => ctx.Scalar(c, Qualified(key)).Value).ToList();
            if (list.Count == 0) throw ctx.Error(seq, $"{Qualified(key)}: must not be empty");
            return list;
        }

        public IReadOnlyList<string>? OptionalList(string key) =>
            OptionalSequence(key) is { } seq ? seq.Children.Select(c => ctx.Scalar(c, Qualified(key)).Value).ToList() : null;

        public void RejectUnknown()
        {
            foreach (var (k, _) in node.Children)
            {
                var key = ((YamlScalarNode)k).Value ?? "";
                if (!_used.Contains(key)) throw ctx.Error(k, $"{Qualified(key)}: unknown key");
            }
        }
    }
}
