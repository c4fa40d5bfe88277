using System.Text.RegularExpressions;
using Ingot.Config;
using Ingot.Connectors;
using Ingot.Destinations;

namespace Ingot.Postgres.Destination;

public enum BronzePartitioning { Monthly, None }

/// <summary>
/// <c>type: postgres</c> (DESIGN §4.2): the PostgreSQL JSONB bronze table of §5.2, one per stream. <see cref="Connection"/>
/// is a normalized Npgsql connection string (a <c>postgres://</c> URL is converted); its password is a secret.
/// </summary>
public sealed record PostgresDestinationSpec(string Connection, string Schema, string Table, BronzePartitioning Partition, string Environment)
    : DestinationSpec(PostgresDestinationConnector.TypeName)
{
    public override IEnumerable<string?> Secrets => [PostgresConnection.Password(Connection)];

    public override bool KeepsInvalidRows => true;
}

/// <summary>Reads a <c>type: postgres</c> destination section and creates the destination.</summary>
public sealed partial class PostgresDestinationConnector : IDestinationConnector
{
    public const string TypeName = "postgres";
    public const string DefaultTable = "bronze_{stream}";

    public string Type => TypeName;

    [GeneratedRegex(@"\{([^{}]*)\}")]
    private static partial Regex Placeholder();

    public DestinationSpec Read(ConfigSection section)
    {
        var ctx = section.Context;
        var normalized = PostgresConnection.Read(section);
        var schema = section.Optional("schema") is { } s ? Identifier(ctx, s, "schema") : "public";
        var table = DefaultTable;
        if (section.Optional("table") is { } t)
        {
            foreach (Match m in Placeholder().Matches(t.Value))
            {
                if (m.Groups[1].Value is not ("pipeline" or "source" or "stream"))
                    throw ctx.Error(t.Node, $"table: '{m.Value}' is not a placeholder ({{pipeline}}, {{source}} and {{stream}} are)");
            }
            table = Identifier(ctx, t, "table");
        }
        var partition = BronzePartitioning.Monthly;
        if (section.Optional("partition") is { } p)
        {
            partition = p.Value switch
            {
                "monthly" => BronzePartitioning.Monthly,
                "none" => BronzePartitioning.None,
                _ => throw ctx.Error(p.Node, $"partition: '{p.Value}' is not one of monthly, none"),
            };
        }
        var environment = section.Optional("environment") is { } env
            ? (string.IsNullOrWhiteSpace(env.Value) ? throw ctx.Error(env.Node, "environment: must not be empty") : env.Value)
            : "development";
        section.RejectUnknown();
        return new PostgresDestinationSpec(normalized, schema, table, partition, environment);
    }

    private static string Identifier(ConfigContext ctx, ConfigScalar value, string key)
    {
        if (string.IsNullOrWhiteSpace(value.Value) || value.Value.Contains('"', StringComparison.Ordinal) || value.Value.Contains('\0', StringComparison.Ordinal))
            throw ctx.Error(value.Node, $"{key}: '{value.Value}' is not a usable PostgreSQL name (not empty, no double quote)");
        return value.Value;
    }

    public IDestination Create(DestinationSpec spec, DestinationServices services)
    {
        var p = (PostgresDestinationSpec)spec;
        return new PostgresDestination(p, services.Pipeline, services.Time);
    }
}
