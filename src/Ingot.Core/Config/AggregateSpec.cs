using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Ingot.Config;

/// <summary>
/// <c>aggregates[]</c> (DESIGN §4.2 "Aggregates"): an incremental aggregate over one stream's bronze table, merged into a
/// result table in the same destination. Measures are additive and subtractable (<c>count</c>, <c>sum</c>, optionally
/// <c>FILTER (WHERE …)</c>), so rows that leave the table (a refresh overwrote them) can be taken out again.
/// </summary>
/// <param name="Stream">The stream whose table is aggregated (resolved at load: the pipeline's only stream by default).</param>
/// <param name="Destination">The destination holding both tables (its <see cref="DestinationSpec.Name"/>).</param>
/// <param name="Table">The result table's name, or null for <c>{pipeline}_{name}</c>.</param>
/// <param name="Location"><c>file:line:col</c> of the aggregate, for errors found when it runs (a group column the table lacks).</param>
public sealed record AggregateSpec(
    string Name,
    string Stream,
    string Destination,
    string? Table,
    IReadOnlyList<AggregateColumn> GroupBy,
    IReadOnlyList<AggregateMeasure> Measures,
    IReadOnlyList<AggregateDerived> Derived,
    string Location)
{
    /// <summary>The result table's name in the destination's namespace.</summary>
    public string TableFor(string pipeline) => Table ?? $"{pipeline}_{Name}";

    /// <summary>
    /// The definition's canonical text: a result computed under another definition (a changed filter, a new measure) is
    /// not merged into, it is recomputed in full.
    /// </summary>
    public string Fingerprint =>
        string.Join('\n', [
            $"stream={Stream}",
            $"group_by={string.Join(',', GroupBy.Select(g => g.Name))}",
            .. Measures.Select(m => $"measure {m.Name}={m.Sql}"),
            .. Derived.Select(d => $"derived {d.Name}={d.Expression}"),
        ]);
}

/// <summary>A group column of an aggregate, with where it is written.</summary>
public sealed record AggregateColumn(string Name, string Location);

/// <summary>
/// <c>count(*)</c>, <c>count(expr)</c> or <c>sum(expr)</c> (<see cref="Argument"/> null for <c>count(*)</c>), optionally
/// with <c>FILTER (WHERE <see cref="Filter"/>)</c>; the expressions are DuckDB SQL over the bronze table's columns.
/// </summary>
public sealed record AggregateMeasure(string Name, string Function, string? Argument, string? Filter, string Location)
{
    /// <summary>The measure as one SQL aggregate (for the fingerprint and the queries).</summary>
    public string Sql => $"{Function}({Argument ?? "*"}){(Filter is null ? "" : $" FILTER (WHERE {Filter})")}";
}

/// <summary>A value computed from the merged measures and group columns of a group (DuckDB SQL, a number).</summary>
public sealed record AggregateDerived(string Name, string Expression, string Location);

/// <summary>Reads <c>aggregates:</c>; every error with <c>file:line:col</c>, and reading goes on to the next aggregate.</summary>
internal static partial class AggregateReader
{
    [GeneratedRegex("^[a-z][a-z0-9_]*$")]
    private static partial Regex ColumnName();

    /// <summary>The group-row count every result keeps beside the measures (a group whose rows all left the table goes).</summary>
    public const string RowsColumn = "_rows";

    private static readonly HashSet<string> Aggregates = new(StringComparer.OrdinalIgnoreCase)
    {
        "count", "sum", "avg", "mean", "min", "max", "median", "mode", "first", "last", "any_value", "arg_min", "arg_max", "stddev",
        "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp", "list", "array_agg", "string_agg", "group_concat", "bool_and",
        "bool_or", "bit_and", "bit_or", "product", "quantile", "quantile_cont", "quantile_disc", "approx_count_distinct", "histogram",
        "count_star", "sumkahan", "fsum", "kurtosis", "skewness", "entropy", "corr", "covar_pop", "covar_samp",
    };

    /// <summary>Words a derived expression may use besides measure and group names.</summary>
    private static readonly HashSet<string> Keywords = new(StringComparer.OrdinalIgnoreCase)
    {
        "case", "when", "then", "else", "end", "and", "or", "not", "is", "null", "true", "false", "cast", "as", "in", "between",
        "double", "float", "real", "bigint", "integer", "int", "decimal", "numeric", "varchar", "boolean", "like", "distinct", "from",
    };

    public static List<AggregateSpec> Read(ConfigSection pipeline, ConfigContext ctx, string pipelineName, IReadOnlyList<SourceSpec> sources, IReadOnlyList<DestinationSpec> destinations)
    {
        var result = new List<AggregateSpec>();
        if (pipeline.OptionalSections("aggregates") is not { } sections) return result;
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var section in sections)
        {
            ctx.Try(() =>
            {
                var spec = ReadOne(section, ctx, pipelineName, sources, destinations);
                if (!names.Add(spec.Name)) throw section.ErrorAt("name", $"{section.Path}.name: an aggregate named '{spec.Name}' is already defined");
                result.Add(spec);
            });
        }
        var tables = result.GroupBy(a => (a.Destination, a.TableFor(pipelineName))).FirstOrDefault(g => g.Count() > 1);
        if (tables is not null)
            throw pipeline.ErrorAt("aggregates", $"aggregates: {string.Join(" and ", tables.Select(a => a.Name))} would write the same result table {tables.Key.Item2}; give one a table:");
        return result;
    }

    private static AggregateSpec ReadOne(ConfigSection m, ConfigContext ctx, string pipelineName, IReadOnlyList<SourceSpec> sources, IReadOnlyList<DestinationSpec> destinations)
    {
        var name = m.Required("name");
        if (!ColumnName().IsMatch(name.Value)) throw ctx.Error(name.Node, $"{m.Path}.name: '{name.Value}' must match [a-z][a-z0-9_]* (it names a table)");

        var streams = sources.SelectMany(s => s.Streams).ToList();
        string stream;
        if (m.Optional("stream") is { } st)
        {
            stream = streams.Contains(st.Value, StringComparer.Ordinal) ? st.Value
                : throw ctx.Error(st.Node, $"{m.Path}.stream: '{st.Value}' is not a stream of this pipeline{Spelling.Hint(st.Value, streams)} (streams: {string.Join(", ", streams)})");
        }
        else
        {
            stream = streams.Count == 1 ? streams[0]
                : throw m.Error($"{m.Path}.stream: required when the pipeline has several streams (streams: {string.Join(", ", streams)})");
        }

        var holders = destinations.Where(d => d.HoldsAggregates).ToList();
        string destination;
        if (m.Optional("destination") is { } dn)
        {
            destination = holders.Any(d => d.Name == dn.Value) ? dn.Value
                : throw ctx.Error(dn.Node, $"{m.Path}.destination: '{dn.Value}' is not an iceberg destination of this pipeline (iceberg destinations: {(holders.Count == 0 ? "none" : string.Join(", ", holders.Select(d => d.Name)))})");
        }
        else
        {
            destination = holders.Count switch
            {
                1 => holders[0].Name,
                0 => throw m.Error($"{m.Path}: an aggregate needs an iceberg destination (its result table lives beside the bronze table); this pipeline's destinations: {string.Join(", ", destinations.Select(d => d.Name))}"),
                _ => throw m.Error($"{m.Path}.destination: required when the pipeline has several iceberg destinations ({string.Join(", ", holders.Select(d => d.Name))})"),
            };
        }

        string? table = null;
        if (m.Optional("table") is { } t)
        {
            if (t.Value.Length > 255 || t.Value.AsSpan().IndexOfAny('/', '\\', '\0') >= 0 || t.Value is "." or "..")
                throw ctx.Error(t.Node, $"{m.Path}.table: '{t.Value}' is not a usable table name (1 to 255 characters, no slashes)");
            table = t.Value;
        }

        var used = new Dictionary<string, string>(StringComparer.Ordinal);
        void Claim(string column, YamlNode node, string what)
        {
            // A group column may be a metadata column (_ingestion_id, _chunk_key); the result's own columns may not start with '_'.
            var ok = what == "group_by" ? column != RowsColumn && ColumnName().IsMatch(column.TrimStart('_')) : ColumnName().IsMatch(column);
            if (!ok) throw ctx.Error(node, $"{m.Path}.{what}: '{column}' must match [a-z][a-z0-9_]*{(what == "group_by" ? $" (or a metadata column; not {RowsColumn})" : "")} (it names a result column)");
            if (used.TryGetValue(column, out var other)) throw ctx.Error(node, $"{m.Path}.{what}: '{column}' is already a {other} of this aggregate");
            used[column] = what;
        }

        var groupBy = new List<AggregateColumn>();
        foreach (var g in m.OptionalScalars("group_by") ?? [])
        {
            Claim(g.Value, g.Node, "group_by");
            groupBy.Add(new AggregateColumn(g.Value, ctx.Where(g.Node)));
        }

        var measures = new List<AggregateMeasure>();
        var measureMap = m.RequiredMap("measures");
        foreach (var (k, v) in measureMap.Node.Children)
        {
            var key = ((YamlScalarNode)k).Value ?? "";
            measureMap.MarkReported(key);
            // Each measure on its own: every bad one is reported at once.
            ctx.Try(() =>
            {
                Claim(key, k, "measures");
                measures.Add(Measure(ctx, m.Path, key, ctx.Scalar(v, $"{m.Path}.measures.{key}")));
            });
        }
        if (measureMap.Node.Children.Count == 0) throw ctx.Error(measureMap.Node, $"{m.Path}.measures: give at least one, e.g. records: \"count(*)\"");

        var derived = new List<AggregateDerived>();
        if (m.OptionalMap("derived") is { } derivedMap)
        {
            // Every declared measure counts as known (one already reported as bad is not reported again through a derived value).
            var known = groupBy.Select(g => g.Name).Concat(measureMap.Node.Children.Keys.Select(k => ((YamlScalarNode)k).Value ?? "")).ToHashSet(StringComparer.Ordinal);
            foreach (var (k, v) in derivedMap.Node.Children)
            {
                var key = ((YamlScalarNode)k).Value ?? "";
                derivedMap.MarkReported(key);
                ctx.Try(() =>
                {
                    Claim(key, k, "derived");
                    derived.Add(Derived(ctx, m.Path, key, ctx.Scalar(v, $"{m.Path}.derived.{key}"), known));
                });
            }
        }
        m.RejectUnknown();
        return new AggregateSpec(name.Value, stream, destination, table, groupBy, measures, derived, ctx.Where(m.Node));
    }

    private static ConfigException ErrorIn(ConfigContext ctx, ConfigScalar s, int offset, string message)
    {
        var scalar = (YamlScalarNode)s.Node;
        var single = s.Node.Start.Line == s.Node.End.Line;
        var shift = !single ? 0 : scalar.Style == YamlDotNet.Core.ScalarStyle.Plain ? offset : offset + 1;
        return new ConfigException(ctx.File, s.Node.Start.Line, s.Node.Start.Column + shift, message);
    }

    private static AggregateMeasure Measure(ConfigContext ctx, string path, string name, ConfigScalar expr)
    {
        var where = $"{path}.measures.{name}";
        var tokens = Sql.Tokenize(expr.Value, out var bad);
        if (bad is { } b) throw ErrorIn(ctx, expr, b.Offset, $"{where}: {b.Message}");
        const string Accepted = "measures are additive: count(*), count(expr) or sum(expr), each optionally with FILTER (WHERE …)";
        if (tokens.Count == 0) throw ErrorIn(ctx, expr, 0, $"{where}: empty; {Accepted}");
        var fn = tokens[0];
        if (fn.Kind != TokenKind.Word || tokens.Count < 2 || tokens[1].Text != "(")
            throw ErrorIn(ctx, expr, fn.Offset, $"{where}: '{expr.Value}' is not an aggregate; {Accepted}");
        var function = fn.Text.ToLowerInvariant();
        if (function is not ("count" or "sum"))
        {
            var hint = function switch
            {
                "avg" or "mean" => "; an average is a derived value: measures {total: \"sum(x)\", n: \"count(x)\"}, derived {average: \"total / n\"}",
                "min" or "max" => $"; {function} cannot be taken back when rows leave the table (a refresh), so it cannot be kept incrementally",
                _ => "",
            };
            throw ErrorIn(ctx, expr, fn.Offset, $"{where}: {fn.Text}(…) is not additive and subtractable; {Accepted}{hint}");
        }
        var close = Sql.Matching(tokens, 1);
        if (close < 0) throw ErrorIn(ctx, expr, tokens[1].Offset, $"{where}: unbalanced parentheses");
        var inner = tokens[2..close];
        string? argument;
        if (inner.Count == 1 && inner[0].Text == "*")
        {
            if (function == "sum") throw ErrorIn(ctx, expr, inner[0].Offset, $"{where}: sum(*) is not an expression; sum a column, e.g. sum(value)");
            argument = null;
        }
        else
        {
            if (inner.Count == 0) throw ErrorIn(ctx, expr, tokens[close].Offset, $"{where}: {function}() needs an argument (count(*) counts rows)");
            if (inner[0].Text.Equals("distinct", StringComparison.OrdinalIgnoreCase))
                throw ErrorIn(ctx, expr, inner[0].Offset, $"{where}: {function}(DISTINCT …) cannot be merged across increments (a value seen in two increments counts once); {Accepted}");
            NoNestedAggregate(ctx, expr, where, inner);
            argument = expr.Value[inner[0].Offset..(inner[^1].Offset + inner[^1].Text.Length)];
        }
        string? filter = null;
        var rest = tokens[(close + 1)..];
        if (rest.Count > 0)
        {
            if (rest.Count < 4 || !rest[0].Text.Equals("filter", StringComparison.OrdinalIgnoreCase) || rest[1].Text != "(" || !rest[2].Text.Equals("where", StringComparison.OrdinalIgnoreCase)
                || Sql.Matching(rest, 1) != rest.Count - 1 || rest.Count == 4)
                throw ErrorIn(ctx, expr, rest[0].Offset, $"{where}: after {function}(…) only FILTER (WHERE condition) may follow; {Accepted}");
            var cond = rest[3..^1];
            NoNestedAggregate(ctx, expr, where, cond);
            filter = expr.Value[cond[0].Offset..(cond[^1].Offset + cond[^1].Text.Length)];
        }
        return new AggregateMeasure(name, function, argument, filter, ctx.Where(expr.Node));
    }

    private static void NoNestedAggregate(ConfigContext ctx, ConfigScalar expr, string where, List<Token> tokens)
    {
        for (var i = 0; i < tokens.Count - 1; i++)
            if (tokens[i].Kind == TokenKind.Word && tokens[i + 1].Text == "(" && Aggregates.Contains(tokens[i].Text))
                throw ErrorIn(ctx, expr, tokens[i].Offset, $"{where}: an aggregate inside an aggregate ({tokens[i].Text}) is not a per-row expression");
    }

    private static AggregateDerived Derived(ConfigContext ctx, string path, string name, ConfigScalar expr, IReadOnlySet<string> known)
    {
        var where = $"{path}.derived.{name}";
        var tokens = Sql.Tokenize(expr.Value, out var bad);
        if (bad is { } b) throw ErrorIn(ctx, expr, b.Offset, $"{where}: {b.Message}");
        if (tokens.Count == 0) throw ErrorIn(ctx, expr, 0, $"{where}: empty; give an expression over the measures, e.g. 100.0 * missing / records");
        for (var i = 0; i < tokens.Count; i++)
        {
            var tk = tokens[i];
            if (tk.Kind is not (TokenKind.Word or TokenKind.Quoted)) continue;
            var call = tk.Kind == TokenKind.Word && i + 1 < tokens.Count && tokens[i + 1].Text == "(";
            if (call)
            {
                if (Aggregates.Contains(tk.Text))
                    throw ErrorIn(ctx, expr, tk.Offset, $"{where}: {tk.Text}(…) is an aggregate; derived values are computed from the measures of a group (declare it as a measure)");
                continue;
            }
            if (tk.Kind == TokenKind.Word && Keywords.Contains(tk.Text)) continue;
            var ident = tk.Kind == TokenKind.Quoted ? tk.Text[1..^1].Replace("\"\"", "\"", StringComparison.Ordinal) : tk.Text;
            if (!known.Contains(ident))
                throw ErrorIn(ctx, expr, tk.Offset, $"{where}: '{ident}' is not a measure or group column of this aggregate{Spelling.Hint(ident, known)} (known: {string.Join(", ", known)})");
        }
        return new AggregateDerived(name, expr.Value.Trim(), ctx.Where(expr.Node));
    }

    internal enum TokenKind { Word, Quoted, Number, String, Symbol }

    internal readonly record struct Token(TokenKind Kind, string Text, int Offset);

    /// <summary>A small SQL tokenizer: enough to find the aggregate, its argument, its filter, and the names an expression uses.</summary>
    internal static class Sql
    {
        public static List<Token> Tokenize(string text, out (int Offset, string Message)? problem)
        {
            problem = null;
            var list = new List<Token>();
            var i = 0;
            while (i < text.Length)
            {
                var c = text[i];
                if (char.IsWhiteSpace(c)) { i++; continue; }
                var start = i;
                if (c == ';' || (c == '-' && i + 1 < text.Length && text[i + 1] == '-') || (c == '/' && i + 1 < text.Length && text[i + 1] == '*'))
                {
                    problem = (i, "one expression only (no ';' or comments)");
                    return list;
                }
                if (char.IsAsciiLetter(c) || c == '_')
                {
                    while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || text[i] == '_')) i++;
                    list.Add(new Token(TokenKind.Word, text[start..i], start));
                }
                else if (char.IsAsciiDigit(c) || (c == '.' && i + 1 < text.Length && char.IsAsciiDigit(text[i + 1])))
                {
                    while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || text[i] == '.' || text[i] == '_')) i++;
                    list.Add(new Token(TokenKind.Number, text[start..i], start));
                }
                else if (c is '\'' or '"')
                {
                    i++;
                    while (true)
                    {
                        if (i >= text.Length)
                        {
                            problem = (start, $"unterminated {(c == '\'' ? "string" : "quoted name")}");
                            return list;
                        }
                        if (text[i] == c)
                        {
                            if (i + 1 < text.Length && text[i + 1] == c) { i += 2; continue; }
                            i++;
                            break;
                        }
                        i++;
                    }
                    list.Add(new Token(c == '\'' ? TokenKind.String : TokenKind.Quoted, text[start..i], start));
                }
                else
                {
                    i++;
                    list.Add(new Token(TokenKind.Symbol, text[start..i], start));
                }
            }
            var depth = 0;
            foreach (var t in list)
            {
                if (t.Text == "(") depth++;
                else if (t.Text == ")" && --depth < 0)
                {
                    problem = (t.Offset, "unbalanced parentheses");
                    return list;
                }
            }
            if (depth != 0) problem = (text.Length - 1, "unbalanced parentheses");
            return list;
        }

        /// <summary>The index of the ')' closing the '(' at <paramref name="open"/>, or -1.</summary>
        public static int Matching(List<Token> tokens, int open)
        {
            var depth = 0;
            for (var i = open; i < tokens.Count; i++)
            {
                if (tokens[i].Text == "(") depth++;
                else if (tokens[i].Text == ")" && --depth == 0) return i;
            }
            return -1;
        }
    }
}
