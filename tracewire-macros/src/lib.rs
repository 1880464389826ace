//! The `#[traced]` attribute macro of [tracewire](https://docs.rs/tracewire). Use it as
//! `tracewire::traced` (or through `tracewire::prelude`): its documentation, options and examples
//! are there.
//!
//! The macro is split the way `tracing-attributes` is: [`attr`] parses the options (every error
//! spanned on the offending token) and [`expand`] writes the instrumented body, calling only
//! `tracewire::__private` (or `<crate = path>::__private`).

mod attr;
mod expand;

use proc_macro::TokenStream;

/// Instruments a function: see `tracewire::traced` for the options and examples.
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    let args = match syn::parse::<attr::Args>(args) {
        Ok(args) => args,
        Err(error) => return with_item(error, item),
    };
    let function = match parse_function(item.clone()) {
        Ok(function) => function,
        Err(error) => return with_item(error, item),
    };
    match expand::expand(args, function) {
        Ok(tokens) => tokens.into(),
        Err(error) => with_item(error, item),
    }
}

/// A function with a body: a free function, a method, or a trait method with a default body.
fn parse_function(item: TokenStream) -> syn::Result<syn::ItemFn> {
    let tokens = proc_macro2::TokenStream::from(item);
    if let Ok(function) = syn::parse2::<syn::ItemFn>(tokens.clone()) {
        return Ok(function);
    }
    if let Ok(declaration) = syn::parse2::<syn::TraitItemFn>(tokens.clone()) {
        return Err(syn::Error::new_spanned(
            &declaration.sig,
            "#[traced] needs a function body: put it on the implementations (or on a default body)",
        ));
    }
    Err(syn::Error::new(
        item_keyword(tokens),
        "#[traced] applies to functions and methods only",
    ))
}

/// Where an item starts once its attributes and visibility are skipped (`struct`, `mod`, ...).
fn item_keyword(tokens: proc_macro2::TokenStream) -> proc_macro2::Span {
    use proc_macro2::{Delimiter, TokenTree};
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        match &token {
            TokenTree::Punct(punct) if punct.as_char() == '#' => {
                tokens.next_if(
                    |t| matches!(t, TokenTree::Group(g) if g.delimiter() == Delimiter::Bracket),
                );
            }
            TokenTree::Ident(ident) if ident == "pub" => {
                tokens.next_if(
                    |t| matches!(t, TokenTree::Group(g) if g.delimiter() == Delimiter::Parenthesis),
                );
            }
            _ => return token.span(),
        }
    }
    proc_macro2::Span::call_site()
}

/// The error, followed by the item as written, so that the rest of the crate still type-checks
/// and the user sees this one error rather than a cascade about a missing item.
fn with_item(error: syn::Error, item: TokenStream) -> TokenStream {
    let mut tokens = error.to_compile_error();
    tokens.extend(proc_macro2::TokenStream::from(item));
    tokens.into()
}
