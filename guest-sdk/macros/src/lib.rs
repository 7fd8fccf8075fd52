//! `#[contract]`, re-exported by `wasmcc-sdk`: an `impl` block of transaction functions becomes a Fabric contract.
//!
//! The expansion is plain code against `wasmcc_sdk::__private::contract`: a `match` on the transaction name that
//! converts each argument to its parameter's type, calls the function and turns its return value into the payload,
//! and a function listing the transactions with their schemas for `GetMetadata`. Nothing is registered at run time
//! and nothing is generated for what a contract does not use. The rules it follows are documented on
//! `wasmcc_sdk::contract`.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Error, FnArg, GenericArgument, ImplItem, ImplItemFn, ItemImpl, Lit, Meta, Pat, PathArguments, ReturnType, Token,
    Type,
};

/// Makes the `impl` block a contract.
///
/// - On the block: `#[contract]`, or with any of `name = "Contract"` (default: the type's name), `default`
///   (answers bare function names), `title = "..."`, `version = "..."` (the contract's info in the metadata).
/// - On each transaction function: `#[transaction]` (submitted) or `#[transaction(evaluate)]` (a query), with
///   `name = "Function"` to choose its name (default: the Rust name in UpperCamelCase, `get_all` → `GetAll`).
///   A transaction function takes `ctx: &mut Context` and then its parameters, each a type that is
///   `serde::Deserialize + schemars::JsonSchema`, and returns `()`, a `Serialize + JsonSchema` value, or a `Result`
///   of one whose error is `Display`.
/// - Hooks, at most one each: `#[before_transaction] fn(ctx: &mut Context)`, `#[after_transaction] fn(ctx: &mut
///   Context, payload: &[u8])`, `#[unknown_transaction] fn(ctx: &mut Context)`, each returning `()` or
///   `Result<(), E>`.
#[proc_macro_attribute]
pub fn contract(attr: TokenStream, item: TokenStream) -> TokenStream {
    match expand(attr.into(), item.into()) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// `#[contract(...)]`'s arguments.
#[derive(Default)]
struct ContractArgs {
    name: Option<String>,
    default: bool,
    title: Option<String>,
    version: Option<String>,
}

/// One `#[transaction]` function.
struct Transaction {
    ident: syn::Ident,
    name: String,
    submit: bool,
    /// Metadata name and type of each parameter after the context.
    params: Vec<(String, Type)>,
    returns: Returns,
    span: Span,
}

enum Returns {
    Unit,
    Value(Type),
    /// `Result<T, E>`: the `T`.
    Result(Type),
}

#[derive(Default)]
struct Hooks {
    before: Option<syn::Ident>,
    after: Option<syn::Ident>,
    unknown: Option<syn::Ident>,
}

fn expand(attr: Tokens, item: Tokens) -> syn::Result<Tokens> {
    let args = contract_args(attr)?;
    let mut block: ItemImpl = syn::parse2(item)?;
    if !block.generics.params.is_empty() || block.trait_.is_some() {
        return Err(Error::new(block.span(), "#[contract] goes on an inherent impl block of a type without generics"));
    }
    let mut transactions = Vec::new();
    let mut hooks = Hooks::default();
    for item in &mut block.items {
        if let ImplItem::Fn(f) = item {
            read_function(f, &mut transactions, &mut hooks)?;
        }
    }
    let ty = &block.self_ty;
    let type_name = match &**ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
    .ok_or_else(|| Error::new(ty.span(), "#[contract] needs a named type"))?;
    let name = args.name.clone().unwrap_or_else(|| type_name.clone());
    let default = args.default;
    let info = if args.title.is_some() || args.version.is_some() {
        let title = option(&args.title);
        let version = option(&args.version);
        quote!(::core::option::Option::Some(__c::ContractInfo { type_name: #type_name, title: #title, version: #version }))
    } else {
        quote!(::core::option::Option::None)
    };
    let metadata = transactions.iter().map(describe);
    let arms = transactions.iter().map(|t| {
        let name = &t.name;
        let runner = format_ident!("__run_{}", t.ident);
        quote!(#name => #runner(ctx, args),)
    });
    let runners = transactions.iter().map(|t| runner(ty, t, &hooks));
    let unknown = match &hooks.unknown {
        Some(f) => quote_spanned!(f.span()=> __c::hook(<#ty>::#f(ctx))),
        None => quote!(__c::unknown_transaction(ctx)),
    };
    Ok(quote! {
        #block

        const _: () = {
            use ::wasmcc_sdk::__private::contract as __c;

            fn __transactions(schemas: &mut __c::Schemas) -> ::std::vec::Vec<__c::Transaction> {
                let _ = &schemas;
                ::std::vec![#(#metadata),*]
            }

            #(#runners)*

            fn __call(
                ctx: &mut ::wasmcc_sdk::Context<'_, '_>,
                name: &str,
                args: &[::std::vec::Vec<u8>],
            ) -> ::core::option::Option<::core::result::Result<::std::vec::Vec<u8>, ::std::string::String>> {
                let _ = (&ctx, &args);
                ::core::option::Option::Some(match name {
                    #(#arms)*
                    _ => return ::core::option::Option::None,
                })
            }

            fn __unknown(ctx: &mut ::wasmcc_sdk::Context<'_, '_>) -> ::core::result::Result<(), ::std::string::String> {
                #unknown
            }

            impl __c::Contract for #ty {
                const DESCRIPTOR: __c::Descriptor = __c::Descriptor {
                    name: #name,
                    default: #default,
                    info: #info,
                    transactions: __transactions,
                    call: __call,
                    unknown: __unknown,
                };
            }
        };
    })
}

fn option(value: &Option<String>) -> Tokens {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

fn contract_args(attr: Tokens) -> syn::Result<ContractArgs> {
    let mut args = ContractArgs::default();
    for meta in Punctuated::<Meta, Token![,]>::parse_terminated.parse2(attr)? {
        match &meta {
            Meta::Path(p) if p.is_ident("default") => args.default = true,
            Meta::NameValue(nv) => {
                let value = string(&nv.value)?;
                let slot = match nv.path.get_ident().map(|i| i.to_string()).as_deref() {
                    Some("name") => &mut args.name,
                    Some("title") => &mut args.title,
                    Some("version") => &mut args.version,
                    _ => return Err(Error::new(nv.path.span(), "expected name, title, version or default")),
                };
                *slot = Some(value);
            }
            _ => {
                return Err(Error::new(
                    meta.span(),
                    "expected name = \"..\", title = \"..\", version = \"..\" or default",
                ))
            }
        }
    }
    Ok(args)
}

fn string(expr: &syn::Expr) -> syn::Result<String> {
    match expr {
        syn::Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) => Ok(s.value()),
        _ => Err(Error::new(expr.span(), "expected a string literal")),
    }
}

/// Reads a function's `#[transaction]` or hook attribute (and removes it: they mean nothing to the compiler).
fn read_function(f: &mut ImplItemFn, transactions: &mut Vec<Transaction>, hooks: &mut Hooks) -> syn::Result<()> {
    let mut found = None;
    let mut kept = Vec::new();
    for attr in f.attrs.drain(..) {
        let path = attr.path();
        let known = ["transaction", "before_transaction", "after_transaction", "unknown_transaction"]
            .into_iter()
            .find(|k| path.is_ident(k));
        match known {
            Some(kind) if found.is_some() => {
                return Err(Error::new(attr.span(), format!("#[{kind}] on a function that already has one")));
            }
            Some(kind) => found = Some((kind, attr)),
            None => kept.push(attr),
        }
    }
    f.attrs = kept;
    let Some((kind, attr)) = found else { return Ok(()) };
    if let Some(FnArg::Receiver(r)) = f.sig.inputs.first() {
        return Err(Error::new(
            r.span(),
            "contract functions take no `self`: every transaction runs in a fresh instance, so state lives on the \
             ledger; take `ctx: &mut Context` first",
        ));
    }
    let ident = f.sig.ident.clone();
    let slot = match kind {
        "before_transaction" => &mut hooks.before,
        "after_transaction" => &mut hooks.after,
        "unknown_transaction" => &mut hooks.unknown,
        _ => {
            transactions.push(transaction(f, &attr)?);
            return Ok(());
        }
    };
    if slot.is_some() {
        return Err(Error::new(attr.span(), format!("a second #[{kind}] hook")));
    }
    *slot = Some(ident);
    Ok(())
}

fn transaction(f: &ImplItemFn, attr: &syn::Attribute) -> syn::Result<Transaction> {
    let mut name = None;
    let mut submit = true;
    if let Meta::List(_) = &attr.meta {
        attr.parse_nested_meta(|m| {
            if m.path.is_ident("evaluate") {
                submit = false;
                Ok(())
            } else if m.path.is_ident("submit") {
                Ok(())
            } else if m.path.is_ident("name") {
                name = Some(m.value()?.parse::<syn::LitStr>()?.value());
                Ok(())
            } else {
                Err(m.error("expected evaluate, submit or name = \"..\""))
            }
        })?;
    }
    let mut inputs = f.sig.inputs.iter();
    if inputs.next().is_none() {
        return Err(Error::new(f.sig.span(), "a transaction function takes `ctx: &mut Context` first"));
    }
    let mut params = Vec::new();
    for input in inputs {
        let FnArg::Typed(pt) = input else { unreachable!("only the first input can be a receiver") };
        let Pat::Ident(id) = &*pt.pat else {
            return Err(Error::new(
                pt.pat.span(),
                "parameters must be plain names: they name the metadata's parameters",
            ));
        };
        params.push((lower_camel(&id.ident.to_string()), (*pt.ty).clone()));
    }
    let returns = match &f.sig.output {
        ReturnType::Default => Returns::Unit,
        ReturnType::Type(_, ty) if is_unit(ty) => Returns::Unit,
        ReturnType::Type(_, ty) => match result_ok_type(ty) {
            Some(ok) => Returns::Result(ok),
            None => Returns::Value((**ty).clone()),
        },
    };
    Ok(Transaction {
        name: name.unwrap_or_else(|| upper_camel(&f.sig.ident.to_string())),
        ident: f.sig.ident.clone(),
        submit,
        params,
        returns,
        span: f.sig.span(),
    })
}

fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(t) if t.elems.is_empty())
}

/// `T` of a return type spelled `Result<T, ..>` (any path ending in `Result`, so aliases like `Result<T>` count).
fn result_ok_type(ty: &Type) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else { return None };
    match args.args.first()? {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    }
}

/// The metadata entry of one transaction.
fn describe(t: &Transaction) -> Tokens {
    let name = &t.name;
    let submit = t.submit;
    let params = t.params.iter().map(|(n, ty)| quote_spanned!(ty.span()=> (#n, schemas.schema::<#ty>())));
    let returns = match &t.returns {
        Returns::Value(ty) | Returns::Result(ty) if !is_unit(ty) => {
            quote_spanned!(ty.span()=> ::core::option::Option::Some(schemas.schema::<#ty>()))
        }
        _ => quote!(::core::option::Option::None),
    };
    quote! {
        __c::Transaction { name: #name, submit: #submit, parameters: ::std::vec![#(#params),*], returns: #returns }
    }
}

/// The function that runs one transaction: arguments, before hook, the call, payload, after hook.
fn runner(ty: &Type, t: &Transaction, hooks: &Hooks) -> Tokens {
    let runner = format_ident!("__run_{}", t.ident);
    let f = &t.ident;
    let count = t.params.len();
    let values: Vec<_> = (0..count).map(|i| format_ident!("__p{i}")).collect();
    let takes = t
        .params
        .iter()
        .zip(&values)
        .enumerate()
        .map(|(i, ((_, pty), v))| quote_spanned!(pty.span()=> let #v: #pty = args.get(#i)?;));
    let before = hooks.before.as_ref().map(|h| quote_spanned!(h.span()=> __c::hook(<#ty>::#h(ctx))?;));
    let after = hooks.after.as_ref().map(|h| quote_spanned!(h.span()=> __c::hook(<#ty>::#h(ctx, &payload))?;));
    let call = quote_spanned!(t.span=> <#ty>::#f(ctx, #(#values),*));
    let payload = match &t.returns {
        Returns::Result(_) => quote_spanned!(t.span=> __c::result_payload(#call)?),
        _ => quote_spanned!(t.span=> __c::value_payload(&#call)?),
    };
    quote! {
        fn #runner(
            ctx: &mut ::wasmcc_sdk::Context<'_, '_>,
            args: &[::std::vec::Vec<u8>],
        ) -> ::core::result::Result<::std::vec::Vec<u8>, ::std::string::String> {
            #[allow(unused_mut, unused_variables)]
            let mut args = __c::Args::new(args, #count)?;
            #(#takes)*
            #before
            let payload = #payload;
            #after
            ::core::result::Result::Ok(payload)
        }
    }
}

/// `get_all_assets` → `GetAllAssets`: Fabric's transactions are conventionally UpperCamelCase.
fn upper_camel(name: &str) -> String {
    name.split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map(|c| c.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default()
        })
        .collect()
}

/// `appraised_value` → `appraisedValue`, as a JavaScript or Go client names it.
fn lower_camel(name: &str) -> String {
    let upper = upper_camel(name);
    let mut chars = upper.chars();
    chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_fabric_conventions() {
        assert_eq!(upper_camel("get_all_assets"), "GetAllAssets");
        assert_eq!(upper_camel("read"), "Read");
        assert_eq!(lower_camel("appraised_value"), "appraisedValue");
        assert_eq!(lower_camel("id"), "id");
    }

    #[test]
    fn result_types_are_recognised_by_name() {
        let ty: Type = syn::parse_quote!(Result<Asset, String>);
        assert!(result_ok_type(&ty).is_some());
        let ty: Type = syn::parse_quote!(std::result::Result<Vec<u8>>);
        assert!(result_ok_type(&ty).is_some());
        let ty: Type = syn::parse_quote!(Option<Asset>);
        assert!(result_ok_type(&ty).is_none());
    }
}
