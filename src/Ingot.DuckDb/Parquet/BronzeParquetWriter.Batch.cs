using System.Runtime.CompilerServices;
using Ingot.Records;
using ParquetSharp;

namespace Ingot.DuckDb.Parquet;

/// <summary>
/// Field columns from typed batches (<see cref="BatchTable"/>): integers and booleans written as they are held, text as
/// its bytes, decimals parsed from their digits once — the values and types the JSON path writes for the same records.
/// </summary>
internal static partial class BronzeParquetWriter
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteField(ColumnWriter column, BatchTable rows, int c, ColumnType type, List<int> order, int from, int to, Scratch scratch)
    {
        var kind = rows.Columns[c].Kind;
        switch (type)
        {
            case ColumnType.BigInt when kind == BatchKind.Integer:
                WriteFixed<long, BatchValues<long>>(column, order, from, to, scratch, new(rows, c, static (b, c, i) => b.Int64(c, i)));
                break;
            case ColumnType.BigInt when kind == BatchKind.Number:
                WriteFixed<long, BatchValues<long>>(column, order, from, to, scratch, new(rows, c, static (b, c, i) => b.IsNumberText(c, i) ? throw NotANumber(b, c, i) : RowTable.ParseInt64(b.Bytes(c, i))));
                break;
            case ColumnType.Double when kind == BatchKind.Integer:
                WriteFixed<double, BatchValues<double>>(column, order, from, to, scratch, new(rows, c, static (b, c, i) => (double)b.Int64(c, i)));
                break;
            case ColumnType.Double when kind == BatchKind.Number:
                WriteFixed<double, BatchValues<double>>(column, order, from, to, scratch, new(rows, c, static (b, c, i) => b.IsNumberText(c, i) ? throw NotANumber(b, c, i) : RowTable.ParseDouble(b.Bytes(c, i))));
                break;
            case ColumnType.Boolean when kind == BatchKind.Boolean:
                WriteFixed<bool, BatchValues<bool>>(column, order, from, to, scratch, new(rows, c, static (b, c, i) => b.Int64(c, i) != 0));
                break;
            case ColumnType.Varchar:
                // Strings as their value, numbers as their digits, booleans as true/false: the JSON path's text.
                WriteText(column, order, from, to, scratch, new BatchText(rows, c, kind));
                break;
            default:
                // A list column (or a type the values cannot take): only nulls fit.
                WriteNullsOrMisfit(column, rows, c, type, order, from, to, scratch);
                break;
        }
    }

    /// <summary>A typed part's values of one column as the JSON path's text.</summary>
    private readonly record struct BatchText(BatchTable Rows, int Column, BatchKind Kind) : ITextValues
    {
        public bool TryAdd(int row, Scratch scratch)
        {
            var batch = Rows.BatchOf(row);
            var i = Rows.RowOf(row);
            if (batch.IsNull(Column, i)) return false;
            switch (Kind)
            {
                case BatchKind.Boolean:
                    scratch.AddBytes(batch.Int64(Column, i) != 0 ? "true"u8 : "false"u8);
                    break;
                case BatchKind.Integer:
                    batch.Int64(Column, i).TryFormat(scratch.Text, out var length, default, System.Globalization.CultureInfo.InvariantCulture);
                    scratch.AddBytes(scratch.Text.AsSpan(0, length));
                    break;
                default:
                    scratch.AddBytes(batch.Bytes(Column, i));
                    break;
            }
            return true;
        }
    }

    private delegate T BatchValue<T>(RowBatch batch, int column, int row);

    /// <summary>A typed part's values of one column, converted by <paramref name="Value"/>.</summary>
    private readonly record struct BatchValues<T>(BatchTable Rows, int Column, BatchValue<T> Value) : IFixedValues<T>
        where T : unmanaged
    {
        public bool TryGet(int row, out T value)
        {
            var batch = Rows.BatchOf(row);
            var i = Rows.RowOf(row);
            value = default;
            if (batch.IsNull(Column, i)) return false;
            value = Value(batch, Column, i);
            return true;
        }
    }

    private static void WriteNullsOrMisfit(ColumnWriter column, BatchTable rows, int c, ColumnType type, List<int> order, int from, int to, Scratch scratch)
    {
        var list = type.IsList();
        for (var b = from; b < to; b += BatchRows)
        {
            var n = Math.Min(BatchRows, to - b);
            var defs = scratch.Defs(n);
            for (var i = 0; i < n; i++)
            {
                var r = order[b + i];
                if (!rows.BatchOf(r).IsNull(c, rows.RowOf(r)))
                    throw new InvalidDataException($"record {r + 1}: field '{rows.Names[c]}' holds {rows.KindOf(r, c)}, which does not fit the column's type {type.Sql()}");
                defs[i] = 0;
            }
            switch (column)
            {
                case ColumnWriter<ByteArray> bytes: bytes.WriteBatch(n, defs, list ? defs : default, ReadOnlySpan<ByteArray>.Empty); break;
                case ColumnWriter<double> doubles: doubles.WriteBatch(n, defs, list ? defs : default, ReadOnlySpan<double>.Empty); break;
                case ColumnWriter<long> longs: longs.WriteBatch(n, defs, default, ReadOnlySpan<long>.Empty); break;
                case ColumnWriter<bool> bools: bools.WriteBatch(n, defs, default, ReadOnlySpan<bool>.Empty); break;
                default: throw new InvalidOperationException($"column '{rows.Names[c]}': no writer for {type.Sql()}");
            }
        }
    }

    private static InvalidDataException NotANumber(RowBatch batch, int column, int row) =>
        new($"field '{batch.Columns[column].Name}' holds the string '{System.Text.Encoding.UTF8.GetString(batch.Bytes(column, row))}', which does not fit a number column");
}
