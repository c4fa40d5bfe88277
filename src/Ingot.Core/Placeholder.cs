namespace Ingot; internal static class Placeholder { }
