using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Ingot.Config;

public readonly record struct ConfigScalar(string Value, YamlNode Node);

public sealed class ConfigContext(string file, Func<string, string?> environment)
{
    public string File { get; } = file;

    public ConfigException Error(YamlNode node, string message) => new(File, node.Start.Line, node.Start.Column, message);

    private readonly List<ConfigException> _errors = [];

    /// <summary>
    /// Runs one independent part of reading (a key, a source, a destination): its error is kept and reading goes on, so a
    /// file's errors are reported together (<see cref="ThrowIfAny"/>) rather than one per attempt.
    /// </summary>
    public bool Try(Action read)
    {
        try
        {
            read();
            return true;
        }
        catch (ConfigException e)
        {
            Report(e);
            return false;
        }
    }

    public void Report(ConfigException e)
    {
        if (e.Errors.Count > 0) _errors.AddRange(e.Errors);
        else if (!_errors.Any(x => x.Message == e.Message)) _errors.Add(e);
    }

    /// <summary>Every error kept so far, in file order, as one exception.</summary>
    public void ThrowIfAny()
    {
        if (_errors.Count == 0) return;
        var sorted = _errors.OrderBy(e => e.Line).ThenBy(e => e.Column).ToList();
        throw sorted.Count == 1 ? sorted[0] : new ConfigException(sorted);
    }

    public ConfigScalar Scalar(YamlNode node, string key)
    {
        if (node is not YamlScalarNode s) throw Error(node, $"{key}: expected a single value, found a {(node is YamlSequenceNode ? "list" : "mapping")}");
        var raw = s.Value ?? "";
        var value = PipelineLoader.VariableRegex().Replace(raw, match =>
        {
            var name = match.Groups[1].Value;
            var v = environment(name);
            if (!string.IsNullOrEmpty(v)) return v;
            if (match.Groups[2].Success) return match.Groups[2].Value;
            // Point at the variable itself when the scalar is on one line.
            var col = s.Start.Column + (s.Style == YamlDotNet.Core.ScalarStyle.Plain ? match.Index : match.Index + 1);
            throw new ConfigException(File, s.Start.Line, col, $"{key}: environment variable {name} is not set (use ${{{name}:-default}} for a default)");
        });
        return new ConfigScalar(value, s);
    }

    public bool Bool(ConfigScalar s) => s.Value switch
    {
        "true" or "True" or "yes" => true,
        "false" or "False" or "no" => false,
        _ => throw Error(s.Node, $"expected true or false, found '{s.Value}'"),
    };

    public long Long(ConfigScalar s, long min, long max = long.MaxValue)
    {
        if (!long.TryParse(s.Value.Replace("_", "", StringComparison.Ordinal), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v))
            throw Error(s.Node, $"expected a whole number, found '{s.Value}'");
        if (v < min || v > max) throw Error(s.Node, $"{v} is out of range ({min}..{(max == long.MaxValue ? "" : max)})");
        return v;
    }

    public long Bytes(ConfigScalar s)
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

    public TimeSpan Duration(ConfigScalar s) =>
        Values.TryDuration(s.Value, out var d) && d > TimeSpan.Zero ? d : throw Error(s.Node, $"expected a duration like 100ms, 10s or 2m, found '{s.Value}'");

    public DateTimeOffset Instant(ConfigScalar s) =>
        Values.TryInstant(s.Value, out var t) ? t : throw Error(s.Node, $"expected a UTC time like 2000-01-01T00:00:00Z, found '{s.Value}'");

    /// <summary>
    /// A local path as configured, resolved against the pipeline file's folder when relative (a lake, a drop folder, a
    /// schema): the same pipeline lands in the same place whatever folder it is run from. URLs (<c>s3://…</c>) stay as written.
    /// </summary>
    public string LocalPath(ConfigScalar s)
    {
        var value = s.Value;
        if (value.Contains("://", StringComparison.Ordinal) || System.IO.Path.IsPathRooted(value)) return value;
        var folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(File)) ?? ".";
        return System.IO.Path.GetFullPath(System.IO.Path.Combine(folder, value));
    }

    /// <summary><c>file:line:col</c> of a node, for messages made after loading (a field check before a run).</summary>
    public string Where(YamlNode node) => $"{File}:{node.Start.Line}:{node.Start.Column}";

    /// <summary>An http(s) URL, or <c>simulator</c>: the built-in simulator of the source's API, started in-process.</summary>
    public string Url(ConfigScalar s) =>
        s.Value == PipelineLoader.BuiltinSimulator ? s.Value : Uri.TryCreate(s.Value, UriKind.Absolute, out var u) && (u.Scheme == "http" || u.Scheme == "https")
            ? s.Value.TrimEnd('/')
            : throw Error(s.Node, $"expected an http(s) URL or 'simulator', found '{s.Value}'");
}

/// <summary>
/// One mapping of a pipeline file (the pipeline, a source, a stream, a destination), read strictly: every key a reader
/// asks for is marked used, and <see cref="RejectUnknown"/> reports the rest with <c>file:line:col</c>. Connectors read
/// their own sections through it.
/// </summary>
public sealed class ConfigSection(ConfigContext ctx, YamlMappingNode node, string path)
{
    public ConfigContext Context => ctx;

    public YamlMappingNode Node => node;

    /// <summary>The dotted path of this section, e.g. <c>sources[0]</c> or <c>destinations[1]</c>.</summary>
    public string Path => path;

    public ConfigException Error(string message) => ctx.Error(node, message);

    /// <summary>An error at a key's value (or at the section when the key is absent).</summary>
    public ConfigException ErrorAt(string key, string message) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var v) ? ctx.Error(v, message) : ctx.Error(node, message);

    /// <summary>A key already reported by its reader (a misspelling named as such): not reported again as unknown.</summary>
    public void MarkReported(string key) => _used.Add(key);

    public bool Has(string key) => node.Children.ContainsKey(new YamlScalarNode(key));

    /// <summary>A list of mappings (<c>streams:</c>, <c>sources:</c>), each as a section; null when the key is absent.</summary>
    public IReadOnlyList<ConfigSection>? OptionalSections(string key)
    {
        var seq = OptionalSequence(key);
        if (seq is null) return null;
        var list = new List<ConfigSection>();
        var i = 0;
        foreach (var item in seq.Children)
        {
            if (item is not YamlMappingNode m) throw ctx.Error(item, $"{Qualified(key)}[{i}]: expected a mapping");
            list.Add(new ConfigSection(ctx, m, $"{Qualified(key)}[{i}]"));
            i++;
        }
        return list;
    }

    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    private YamlNode? Get(string key)
    {
        _used.Add(key);
        return node.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v : null;
    }

    private string Qualified(string key) => path == "pipeline" ? key : $"{path}.{key}";

    /// <summary>The key's node as written (a scalar, list or mapping), for keys that accept several shapes.</summary>
    public YamlNode? OptionalNode(string key) => Get(key);

    public ConfigScalar? Optional(string key)
    {
        var v = Get(key);
        if (v is null || v is YamlScalarNode { Value: null or "" } && ((YamlScalarNode)v).Style == ScalarStyle.Plain) return null;
        return ctx.Scalar(v, Qualified(key));
    }

    /// <summary>A required key is absent: a misspelling of it is named instead (<c>destinatons: unknown key (did you mean destinations?)</c>).</summary>
    private ConfigException Missing(string key)
    {
        foreach (var (k, _) in node.Children)
        {
            var name = ((YamlScalarNode)k).Value ?? "";
            if (_used.Contains(name) || Spelling.Closest(name, [key]) != key) continue;
            _used.Add(name); // reported here, not again as unknown
            return ctx.Error(k, $"{Qualified(name)}: unknown key (did you mean {key}?)");
        }
        return ctx.Error(node, $"{Qualified(key)}: required key is missing");
    }

    public ConfigScalar Required(string key)
    {
        var v = Get(key) ?? throw Missing(key);
        var s = ctx.Scalar(v, Qualified(key));
        if (string.IsNullOrEmpty(s.Value)) throw ctx.Error(v, $"{Qualified(key)}: must not be empty");
        return s;
    }

    public ConfigSection RequiredMap(string key)
    {
        var v = Get(key) ?? throw Missing(key);
        return v is YamlMappingNode m ? new ConfigSection(ctx, m, Qualified(key)) : throw ctx.Error(v, $"{Qualified(key)}: expected a mapping");
    }

    public ConfigSection? OptionalMap(string key)
    {
        var v = Get(key);
        if (v is null) return null;
        return v is YamlMappingNode m ? new ConfigSection(ctx, m, Qualified(key)) : throw ctx.Error(v, $"{Qualified(key)}: expected a mapping");
    }

    public YamlSequenceNode RequiredSequence(string key)
    {
        var v = Get(key) ?? throw Missing(key);
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

    /// <summary>A list of scalars with their nodes (for settings whose entries are checked later, e.g. field names); null when absent.</summary>
    public IReadOnlyList<ConfigScalar>? OptionalScalars(string key) =>
        OptionalSequence(key) is { } seq ? seq.Children.Select(c => ctx.Scalar(c, Qualified(key))).ToList() : null;

    public IReadOnlyList<string>? OptionalList(string key) =>
        OptionalSequence(key) is { } seq ? seq.Children.Select(c => ctx.Scalar(c, Qualified(key)).Value).ToList() : null;

    /// <summary>Reports every key no reader asked for, each with the closest known key when one is near (all kept, none thrown).</summary>
    public void RejectUnknown()
    {
        var present = node.Children.Keys.Select(k => ((YamlScalarNode)k).Value ?? "").ToHashSet(StringComparer.Ordinal);
        foreach (var (k, _) in node.Children)
        {
            var key = ((YamlScalarNode)k).Value ?? "";
            if (_used.Contains(key)) continue;
            ctx.Report(ctx.Error(k, $"{Qualified(key)}: unknown key{Spelling.Hint(key, _used.Where(u => !present.Contains(u)))}"));
        }
    }
}
